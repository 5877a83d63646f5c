#include "agent/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace assets::log {
namespace {

TEST(Log, LogfmtQuotesAndEscapesValues) {
  const std::string line = format_event(Format::logfmt, Level::warn, "2026-01-01T00:00:00.000Z", "check failed",
                                        {{"check", "backend"}, {"error", "say \"hi\"\nnext"}, {"empty", ""}});
  EXPECT_EQ(line,
            "ts=2026-01-01T00:00:00.000Z level=warn msg=\"check failed\" check=backend "
            "error=\"say \\\"hi\\\"\\nnext\" empty=\"\"");
}

TEST(Log, JsonIsOneObjectPerLine) {
  const std::string line =
      format_event(Format::json, Level::info, "2026-01-01T00:00:00.000Z", "listening", {{"port", "9842"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto event = nlohmann::json::parse(line);
  EXPECT_EQ(event["level"], "info");
  EXPECT_EQ(event["msg"], "listening");
  EXPECT_EQ(event["port"], "9842");
}

TEST(Log, ParsesLevelsAndFormats) {
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_FALSE(parse_level("verbose").has_value());
  EXPECT_EQ(parse_format("json"), Format::json);
  EXPECT_FALSE(parse_format("xml").has_value());
}

TEST(Log, JournalStreamMatchesOnlyItsOwnDeviceAndInode) {
  EXPECT_TRUE(journal_stream_is("8:1234", 8, 1234));
  EXPECT_FALSE(journal_stream_is("8:1234", 8, 1235));
  EXPECT_FALSE(journal_stream_is("9:1234", 8, 1234));
  EXPECT_FALSE(journal_stream_is("8:", 8, 0));
  EXPECT_FALSE(journal_stream_is(":1234", 0, 1234));
  EXPECT_FALSE(journal_stream_is("8:1234x", 8, 1234));
  EXPECT_FALSE(journal_stream_is("", 0, 0));
}

TEST(Log, JournalPrioritiesAreSyslogs) {
  EXPECT_EQ(journal_priority_prefix(Level::error), "<3>");
  EXPECT_EQ(journal_priority_prefix(Level::warn), "<4>");
  EXPECT_EQ(journal_priority_prefix(Level::info), "<6>");
  EXPECT_EQ(journal_priority_prefix(Level::debug), "<7>");
}

}  // namespace
}  // namespace assets::log
