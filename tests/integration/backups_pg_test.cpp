// The backup scripts against a real PostgreSQL server, and the collector on what they
// write: dumps in all three formats verified, damaged dumps caught, restore tests
// reported, pruning keeping exactly the retention window.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"
#include "tests/unit/backups_test_util.h"

namespace assets::testing {
namespace {

class BackupScripts : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSETS_REQUIRE_COMPONENT(PostgresServer::available(), "PostgreSQL server");
    ASSERT_TRUE(server_.start()) << server_.log();
    ASSERT_EQ(server_.sql("CREATE DATABASE assets"), 0) << server_.log();
    std::string output;
    ASSERT_EQ(server_.sql("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);"
                          "INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g;"
                          "CREATE TABLE notes (item int REFERENCES items, body text);"
                          "INSERT INTO notes VALUES (1, 'first'), (2, 'second');"
                          "SELECT lo_from_bytea(0, 'scanned invoice');",
                          &output, "assets"),
              0)
        << output;
    password_file_ = secrets_ / "db_password";
    write_file(password_file_, server_.superuser_password() + "\n");
    fs::permissions(password_file_, fs::perms::owner_read, fs::perm_options::replace);
  }

  // Runs a script from deploy/backup over TCP, where the server asks for a password.
  int run_script(const std::string& script, const std::vector<std::string>& arguments, std::string* output,
                 const fs::path& password_file = {}) {
    std::vector<std::string> argv = {"env",
                                     "-u",
                                     "PGPASSWORD",
                                     "PGHOST=127.0.0.1",
                                     "PGPORT=" + std::to_string(server_.port()),
                                     "PGUSER=postgres",
                                     (source_dir() / "deploy/backup" / script).string(),
                                     "--pg-bin",
                                     server_.bin_dir().string(),
                                     "--password-file",
                                     (password_file.empty() ? password_file_ : password_file).string()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_command(argv, output);
  }

  // Makes one dump with pg-backup.sh into `directory`; returns its path.
  fs::path backup(const fs::path& directory, const std::string& format) {
    fs::create_directories(directory);
    std::string output;
    const int status = run_script(
        "pg-backup.sh", {"--dir", directory.string(), "--format", format, "--retention-days", "30"}, &output);
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output.find(server_.superuser_password()), std::string::npos) << "password in the output";
    fs::path newest;
    for (const auto& entry : fs::directory_iterator(directory)) {
      const std::string name = entry.path().filename().string();
      EXPECT_FALSE(name.starts_with(".")) << "left behind: " << name;
      if (name.starts_with("assets_") && (newest.empty() || entry.path() > newest)) newest = entry.path();
    }
    EXPECT_FALSE(newest.empty()) << output;
    return newest;
  }

  PostgresServer server_;
  TempDir secrets_;
  TempDir work_;
  fs::path password_file_;
};

std::string damaged_copy(const fs::path& source, const fs::path& target, std::size_t keep_bytes,
                         std::optional<std::size_t> flip_at = std::nullopt) {
  std::ifstream in(source, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  bytes.resize(std::min(keep_bytes, bytes.size()));
  if (flip_at) bytes[*flip_at] = static_cast<char>(bytes[*flip_at] ^ 0x10);
  write_file(target, bytes);
  set_mtime(target, SystemClock::now() - 10min);
  return bytes;
}

TEST_F(BackupScripts, DumpsInEveryFormatAreVerified) {
  std::string yaml = "backups:\n";
  for (const std::string format : {"custom", "gzip", "plain"}) {
    const fs::path dump = backup(work_ / format, format);
    set_mtime(dump, SystemClock::now() - 2min);
    yaml += "  - name: " + format + "\n    path: " + (work_ / format).string() + "\n    pattern: \"assets_*\"\n";
  }
  yaml += "  - name: listed\n    path: " + (work_ / "custom").string() + "\n    pg_restore: " +
          (server_.bin_dir() / "pg_restore").string() + "\n";
  Harness harness(yaml);
  harness.run();
  for (const std::string set : {"custom", "gzip", "plain", "listed"}) {
    EXPECT_EQ(harness.value("assets_backup_up", set), 1) << set;
    EXPECT_EQ(harness.value("assets_backup_files", set), 1) << set;
    EXPECT_EQ(harness.value("assets_backup_last_verified", set), 1) << set << ": " << harness.target(set).detail;
    EXPECT_TRUE(harness.reasons(set).empty()) << set << ": " << harness.target(set).detail;
    EXPECT_GT(*harness.value("assets_backup_last_size_bytes", set), 1024) << set;
    EXPECT_TRUE(harness.target(set).up) << set << ": " << harness.target(set).detail;
  }
  EXPECT_NE(harness.target("custom").detail.find("custom dump verified"), std::string::npos);
  EXPECT_NE(harness.target("gzip").detail.find("CRC"), std::string::npos) << harness.target("gzip").detail;
  EXPECT_NE(harness.target("listed").detail.find("pg_restore --list"), std::string::npos)
      << harness.target("listed").detail;
}

TEST_F(BackupScripts, DamagedDumpsAreDetected) {
  const fs::path custom = backup(work_ / "good", "custom");
  const fs::path gzip = backup(work_ / "good-gzip", "gzip");
  const fs::path plain = backup(work_ / "good-plain", "plain");
  const auto size = [](const fs::path& path) { return static_cast<std::size_t>(fs::file_size(path)); };
  std::string plain_text;
  {
    std::ifstream in(plain, std::ios::binary);
    plain_text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t trailer_at = plain_text.rfind("-- PostgreSQL database dump complete");
  ASSERT_NE(trailer_at, std::string::npos);

  struct Damage {
    std::string name;
    fs::path source;
    std::size_t keep;
    std::optional<std::size_t> flip;
    std::string reason;
  };
  const std::vector<Damage> damages = {
      {"custom-10", custom, size(custom) / 10, {}, "verify_failed"},
      {"custom-50", custom, size(custom) / 2, {}, "verify_failed"},
      {"custom-90", custom, size(custom) * 9 / 10, {}, "verify_failed"},
      {"custom-last-byte", custom, size(custom) - 1, {}, "verify_failed"},
      {"gzip-flipped", gzip, size(gzip), size(gzip) / 2, "verify_failed"},
      {"gzip-flipped-crc", gzip, size(gzip), size(gzip) - 6, "verify_failed"},
      {"gzip-50", gzip, size(gzip) / 2, {}, "verify_failed"},
      {"gzip-no-trailer", gzip, size(gzip) - 4, {}, "verify_failed"},
      {"plain-10", plain, size(plain) / 10, {}, "verify_failed"},
      {"plain-50", plain, size(plain) / 2, {}, "verify_failed"},
      {"plain-90", plain, size(plain) * 9 / 10, {}, "verify_failed"},
      {"plain-in-trailer", plain, trailer_at + 20, {}, "verify_failed"},
      {"zero", custom, 0, {}, "too_small"},
  };
  std::string yaml = "backups:\n";
  for (const Damage& damage : damages) {
    damaged_copy(damage.source, work_ / damage.name / damage.source.filename(), damage.keep, damage.flip);
    yaml += "  - name: " + damage.name + "\n    path: " + (work_ / damage.name).string() + "\n";
  }
  // With pg_restore configured, the collector's own check still runs first.
  yaml += "  - name: listed-50\n    path: " + (work_ / "custom-50").string() + "\n    pg_restore: " +
          (server_.bin_dir() / "pg_restore").string() + "\n";
  Harness harness(yaml);
  harness.run();
  for (const Damage& damage : damages) {
    EXPECT_EQ(harness.value("assets_backup_up", damage.name), 1) << damage.name;
    EXPECT_EQ(harness.value("assets_backup_last_verified", damage.name), 0)
        << damage.name << ": " << harness.target(damage.name).detail;
    EXPECT_EQ(harness.reasons(damage.name), std::vector<std::string>{damage.reason})
        << damage.name << ": " << harness.target(damage.name).detail;
  }
  EXPECT_EQ(harness.value("assets_backup_last_verified", "listed-50"), 0);
}

TEST_F(BackupScripts, RestoreTestsAreRestoredAndReported) {
  const fs::path status_file = work_ / "status" / "restore-test.json";
  fs::create_directories(status_file.parent_path());
  const std::string yaml = set_yaml(work_ / "dumps", "    pattern: \"assets_*\"\n    restore_test:\n      status_file: " +
                                                         status_file.string() + "\n      max_age: 92d\n");
  for (const std::string format : {"plain", "gzip", "custom"}) {
    backup(work_ / "dumps", format);
    std::string output;
    const auto before = SystemClock::now();
    ASSERT_EQ(run_script("restore-test.sh",
                         {"--dir", (work_ / "dumps").string(), "--status-file", status_file.string(), "--sanity-query",
                          "SELECT count(*) FROM items"},
                         &output),
              0)
        << format << ": " << output;
    std::ifstream in(status_file);
    const std::string status{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_NE(status.find("\"status\":\"success\""), std::string::npos) << status;
    Harness harness(yaml);
    harness.run();
    const double last_success = *harness.value("assets_backup_restore_test_last_success_timestamp_seconds", "db");
    EXPECT_GE(last_success, seconds_since_epoch(before) - 2) << status;
    EXPECT_LE(last_success, seconds_since_epoch(SystemClock::now()) + 1) << status;
    EXPECT_EQ(harness.value("assets_backup_restore_test_max_age_seconds", "db"), 92 * 86400);
    std::string databases;
    server_.sql("SELECT datname FROM pg_database", &databases);
    EXPECT_EQ(databases.find("assets_restore_test"), std::string::npos) << "scratch database left behind";
  }

  Harness passed(yaml);
  passed.run();
  const double last_success = *passed.value("assets_backup_restore_test_last_success_timestamp_seconds", "db");

  // A newer, corrupt dump: the test fails, says so, and the last success stays.
  const fs::path good = backup(work_ / "source", "custom");
  const fs::path corrupt = work_ / "dumps" / "assets_corrupt.dump";
  damaged_copy(good, corrupt, fs::file_size(good) / 2);
  set_mtime(corrupt, SystemClock::now() + 1s);
  std::string output;
  EXPECT_EQ(run_script("restore-test.sh", {"--dir", (work_ / "dumps").string(), "--status-file", status_file.string()},
                       &output),
            1)
      << output;
  std::ifstream in(status_file);
  const std::string status{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_NE(status.find("\"status\":\"failure\""), std::string::npos) << status;
  EXPECT_NE(status.find("assets_corrupt.dump"), std::string::npos) << status;
  EXPECT_NE(status.find("\"last_success_at\""), std::string::npos) << status;
  Harness failed(yaml);
  failed.run();
  EXPECT_EQ(failed.value("assets_backup_restore_test_last_success_timestamp_seconds", "db"), last_success);
  EXPECT_NE(failed.target("db").detail.find("pg_restore failed"), std::string::npos) << failed.target("db").detail;
  std::string databases;
  server_.sql("SELECT datname FROM pg_database", &databases);
  EXPECT_EQ(databases.find("assets_restore_test"), std::string::npos) << "scratch database left behind";
}

TEST_F(BackupScripts, PruningKeepsExactlyTheRetentionWindow) {
  const fs::path dir = work_ / "dumps";
  const auto day = 24h;
  struct Old {
    std::string name;
    SystemClock::duration age;
    bool kept;
  };
  const std::vector<Old> files = {
      {"assets_a.dump", 45 * day, false},
      {"assets_b.sql.gz", 30 * day + 1h, false},
      {"assets_c.sql", 30 * day + 1min, false},
      {"assets_d.dump", 30 * day - 10min, true},
      {"assets_e.dump", 29 * day, true},
      {"assets_f.sql.gz", 1 * day, true},
      {"assets_notes.txt", 60 * day, true},  // not a dump
      {"other_g.dump", 60 * day, true},      // another prefix
      {".assets_h.dump.partial", 2 * day, false},
  };
  for (const Old& file : files) make_backup(dir / file.name, file.age, 2048);

  std::string output;
  ASSERT_EQ(run_script("pg-backup.sh", {"--dir", dir.string(), "--retention-days", "30"}, &output), 0) << output;
  int dumps = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("assets_") && name.ends_with(".dump")) ++dumps;
  }
  for (const Old& file : files) EXPECT_EQ(fs::exists(dir / file.name), file.kept) << file.name << "\n" << output;

  EXPECT_EQ(dumps, 3);  // d, e and the new one

  fs::remove(dir / "assets_notes.txt");
  Harness harness(set_yaml(dir, "    pattern: \"assets_*\"\n    settle: 0s\n    verify: none\n"));
  harness.run();
  EXPECT_EQ(harness.value("assets_backup_files", "db"), 4);  // d, e, f and the new dump
  const double oldest = *harness.value("assets_backup_oldest_timestamp_seconds", "db");
  EXPECT_NEAR(oldest, seconds_since_epoch(SystemClock::now() - (30 * day - 10min)), 5);
  EXPECT_GT(oldest, seconds_since_epoch(SystemClock::now()) - *harness.value("assets_backup_retention_seconds", "db"));
}

TEST_F(BackupScripts, AFailedBackupLeavesNothingBehindAndPrunesNothing) {
  const fs::path dir = work_ / "dumps";
  make_backup(dir / "assets_old.dump", 40 * 24h);
  const fs::path wrong = secrets_ / "wrong_password";
  write_file(wrong, "not-the-password\n");
  std::string output;
  EXPECT_NE(run_script("pg-backup.sh", {"--dir", dir.string()}, &output, wrong), 0) << output;
  EXPECT_NE(output.find("password authentication failed"), std::string::npos) << output;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"assets_old.dump"});

  EXPECT_NE(run_script("pg-backup.sh", {"--dir", (work_ / "missing").string()}, &output), 0);
  EXPECT_EQ(run_script("pg-backup.sh", {"--dir", dir.string(), "--format", "tar"}, &output), 1) << output;
}

}  // namespace
}  // namespace assets::testing
