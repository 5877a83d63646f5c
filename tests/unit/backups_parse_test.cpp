// Backup times read from file names, and the restore test's status document.
#include <gtest/gtest.h>

#include "collectors/backups/name_time.h"
#include "collectors/backups/restore_status.h"

namespace assets::backups {
namespace {

NameTimePattern compile(std::string_view pattern) {
  std::string error;
  auto compiled = NameTimePattern::compile(pattern, error);
  EXPECT_TRUE(compiled.has_value()) << pattern << ": " << error;
  return compiled.value_or(*NameTimePattern::compile("%s", error));
}

std::string compile_error(std::string_view pattern) {
  std::string error;
  EXPECT_FALSE(NameTimePattern::compile(pattern, error).has_value()) << pattern;
  return error;
}

TEST(NameTime, ReadsDatesAndTimesInUtc) {
  EXPECT_EQ(compile("backup_%Y-%m-%d.sql").parse("backup_2024-05-01.sql"), 1714521600);
  EXPECT_EQ(compile("assets_%Y-%m-%dT%H%M%SZ.dump").parse("assets_2024-05-01T020304Z.dump"), 1714528984);
  EXPECT_EQ(compile("%Y%m%d_%H%M.sql.gz").parse("20240501_0230.sql.gz"), 1714530600);
  EXPECT_EQ(compile("db-%s.dump").parse("db-1714521600.dump"), 1714521600);
  EXPECT_EQ(compile("100%%_%Y-%m-%d").parse("100%_2024-02-29"), 1709164800);
}

TEST(NameTime, WildcardsMatchTheRestOfTheName) {
  const NameTimePattern pattern = compile("*_%Y-%m-%d.*");
  EXPECT_EQ(pattern.parse("assets_prod_2024-05-01.sql.gz"), 1714521600);
  EXPECT_EQ(compile("assets_%Y-%m-%d.sq?").parse("assets_2024-05-01.sql"), 1714521600);
}

TEST(NameTime, NamesThatDoNotMatchOrAreNoValidTimeAreRejected) {
  const NameTimePattern pattern = compile("backup_%Y-%m-%d.sql");
  EXPECT_FALSE(pattern.parse("backup_2024-05-01.sql.gz"));
  EXPECT_FALSE(pattern.parse("backup_latest.sql"));
  EXPECT_FALSE(pattern.parse("backup_2024-5-01.sql"));
  EXPECT_FALSE(pattern.parse("backup_2024-13-01.sql"));
  EXPECT_FALSE(pattern.parse("backup_2023-02-29.sql"));
  EXPECT_FALSE(pattern.parse("xbackup_2024-05-01.sql"));
  EXPECT_FALSE(compile("b_%Y%m%d%H%M%S").parse("b_20240501250000"));
  // Regex characters in the pattern are literals.
  EXPECT_FALSE(compile("a.b_%Y-%m-%d").parse("axb_2024-05-01"));
}

TEST(NameTime, UnusablePatternsAreErrors) {
  EXPECT_NE(compile_error("backup_%Y-%m.sql").find("%Y, %m and %d"), std::string::npos);
  EXPECT_NE(compile_error("backup_%Y-%m-%d_%q").find("unknown conversion %q"), std::string::npos);
  EXPECT_NE(compile_error("%Y-%m-%d-%d").find("twice"), std::string::npos);
  EXPECT_NE(compile_error("%s-%Y-%m-%d").find("cannot be combined"), std::string::npos);
  EXPECT_NE(compile_error("%Y-%m-%d%").find("lone %"), std::string::npos);
}

TEST(Rfc3339, ParsesUtcOffsetsAndFractions) {
  EXPECT_EQ(parse_rfc3339("2024-05-01T00:00:00Z"), 1714521600.0);
  EXPECT_EQ(parse_rfc3339("2024-05-01t00:00:00z"), 1714521600.0);
  EXPECT_EQ(parse_rfc3339("2024-05-01T02:00:00+02:00"), 1714521600.0);
  EXPECT_EQ(parse_rfc3339("2024-04-30T22:30:00-01:30"), 1714521600.0);
  EXPECT_EQ(parse_rfc3339("2024-05-01T00:00:00.5Z"), 1714521600.5);
  for (const char* bad : {"", "2024-05-01", "2024-05-01T00:00:00", "2024-05-01T00:00:00+0200", "2024-02-30T00:00:00Z",
                          "2024-05-01T24:00:00Z", "2024-05-01T00:00:00.Z", "2024-05-01T00:00:00Zjunk"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(RestoreTestStatus, SuccessIsItsOwnLastSuccess) {
  std::string error;
  const auto status = parse_restore_test_status(
      R"({"status":"success","finished_at":"2024-05-01T03:31:12Z","backup":"assets_2024-05-01.dump",)"
      R"("duration_seconds":42,"last_success_at":"2024-05-01T03:31:12Z"})",
      error);
  ASSERT_TRUE(status) << error;
  EXPECT_TRUE(status->success);
  EXPECT_EQ(status->backup, "assets_2024-05-01.dump");
  EXPECT_EQ(status->last_success(), 1714534272.0);
}

TEST(RestoreTestStatus, FailureCarriesThePreviousSuccess) {
  std::string error;
  const auto status = parse_restore_test_status(
      R"({"status":"failure","finished_at":"2024-08-01T03:31:12Z","backup":"assets_2024-08-01.dump",)"
      R"("duration_seconds":3,"error":"pg_restore failed","last_success_at":"2024-05-01T03:31:12Z"})",
      error);
  ASSERT_TRUE(status) << error;
  EXPECT_FALSE(status->success);
  EXPECT_EQ(status->error, "pg_restore failed");
  EXPECT_EQ(status->last_success(), 1714534272.0);

  const auto never = parse_restore_test_status(
      R"({"status":"failure","finished_at":"2024-08-01T03:31:12Z","last_success_at":null})", error);
  ASSERT_TRUE(never) << error;
  EXPECT_FALSE(never->last_success());
}

TEST(RestoreTestStatus, RejectsWhatIsNoStatus) {
  for (const char* bad : {"", "[]", "{\"status\":\"success\"}", "{\"status\":\"ok\",\"finished_at\":\"2024-05-01T00:00:00Z\"}",
                          "{\"status\":\"success\",\"finished_at\":\"yesterday\"}", "{\"status\":\"succ"}) {
    std::string error;
    EXPECT_FALSE(parse_restore_test_status(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

}  // namespace
}  // namespace assets::backups
