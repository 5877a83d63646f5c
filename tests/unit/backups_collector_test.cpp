// The directory scan and the collector on files made in a temp dir: which files count,
// the newest and oldest times (from mtime and from names), the failure reasons, the
// verification cache, the restore-test status file and the per-set schedule.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include "collectors/backups/scan.h"
#include "tests/support/golden.h"
#include "tests/unit/backups_test_util.h"

namespace assets::testing {
namespace {

backups::ScanResult scan(const fs::path& directory, const std::string& pattern, bool recursive = false,
                         const backups::NameTimePattern* name_time = nullptr) {
  backups::ScanOptions options;
  options.directory = directory.string();
  options.pattern = pattern;
  options.recursive = recursive;
  options.name_time = name_time;
  options.now = SystemClock::now();
  options.settle = 60s;
  return backups::scan_backup_directory(options);
}

// Overwrites bytes inside a plain dump's trailer of a `size`-byte file and restores its
// mtime: the file identity (inode, size, mtime) stays, the verification would now fail.
void damage_trailer_keeping_identity(const fs::path& file, std::size_t size) {
  const auto mtime = fs::last_write_time(file);
  {
    std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(static_cast<std::streamoff>(size - 20));
    out << "garbage";
  }
  fs::last_write_time(file, mtime);
}

// Runs `body` as the unprivileged user `nobody` when the tests run as root (root reads
// everything), in a child process; returns its exit status.
int as_unprivileged(const std::function<int()>& body) {
  if (geteuid() != 0) return body();
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

TEST(BackupScan, CountsMatchingCompleteFilesOnly) {
  TempDir dir;
  make_backup(dir / "assets_1.dump", 48h, 1000);
  make_backup(dir / "assets_2.dump", 24h, 3000);
  make_backup(dir / "assets_3.dump", 2h, 5000);
  make_backup(dir / "assets_4.dump.tmp", 1h);
  make_backup(dir / "assets_5.dump.partial", 1h);
  make_backup(dir / ".assets_6.dump", 1h);
  make_backup(dir / "assets_7.dump", 10s);  // still being written: inside the settle window
  make_backup(dir / "other.dump", 1h);
  fs::create_directory(dir / "assets_dir.dump");

  const backups::ScanResult result = scan(dir.path(), "assets_*");
  ASSERT_EQ(result.error, backups::ScanError::none) << result.detail;
  const backups::ScanSummary& summary = result.summary;
  EXPECT_EQ(summary.files, 3u);
  EXPECT_EQ(summary.total_bytes, 9000u);
  EXPECT_EQ(summary.temporary, 2u);
  EXPECT_EQ(summary.settling, 1u);
  ASSERT_TRUE(summary.newest);
  EXPECT_EQ(summary.newest->name, "assets_3.dump");
  EXPECT_EQ(summary.newest->path, (dir / "assets_3.dump").string());
  EXPECT_EQ(summary.newest->identity.size, 5000u);
  EXPECT_NEAR(summary.newest->timestamp, seconds_since_epoch(SystemClock::now() - 2h), 5);
  EXPECT_NEAR(summary.oldest_timestamp, seconds_since_epoch(SystemClock::now() - 48h), 5);
}

TEST(BackupScan, OldestAndCountByMtimeOverTheRetentionWindow) {
  TempDir dir;
  for (int days : {45, 40, 32, 31, 20, 1}) make_backup(dir / ("assets_" + std::to_string(days) + ".dump"), days * 24h);
  const backups::ScanResult result = scan(dir.path(), "assets_*.dump");
  ASSERT_EQ(result.error, backups::ScanError::none);
  EXPECT_EQ(result.summary.files, 6u);
  EXPECT_NEAR(result.summary.oldest_timestamp, seconds_since_epoch(SystemClock::now() - 45 * 24h), 5);
  EXPECT_EQ(result.summary.newest->name, "assets_1.dump");
}

TEST(BackupScan, OldestAndCountByNameTime) {
  TempDir dir;
  std::string error;
  const auto pattern = backups::NameTimePattern::compile("assets_%Y-%m-%dT%H%M%SZ.dump", error);
  ASSERT_TRUE(pattern) << error;
  const auto name_for = [](SystemClock::time_point time) {
    const std::time_t t = SystemClock::to_time_t(time);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char name[64];
    std::strftime(name, sizeof name, "assets_%Y-%m-%dT%H%M%SZ.dump", &utc);
    return std::string(name);
  };
  const auto now = std::chrono::floor<std::chrono::seconds>(SystemClock::now());
  // Names carry the time; every mtime is recent (copied files), so only names can tell.
  for (int days : {40, 33, 31, 2}) make_backup(dir / name_for(now - days * 24h), 5min);
  make_backup(dir / "assets_latest.dump", 5min);  // no time in the name: skipped

  const backups::ScanResult result = scan(dir.path(), "assets_*", false, &*pattern);
  ASSERT_EQ(result.error, backups::ScanError::none);
  EXPECT_EQ(result.summary.files, 4u);
  EXPECT_EQ(result.summary.unparsable_names, 1u);
  EXPECT_DOUBLE_EQ(result.summary.oldest_timestamp, seconds_since_epoch(now - 40 * 24h));
  EXPECT_DOUBLE_EQ(result.summary.newest->timestamp, seconds_since_epoch(now - 2 * 24h));
  EXPECT_EQ(result.summary.newest->name, name_for(now - 2 * 24h));
}

TEST(BackupScan, FutureTimesAreClampedToNow) {
  TempDir dir;
  make_backup(dir / "assets_old.dump", 24h);
  make_backup(dir / "assets_skewed.dump", -3h);
  const auto before = SystemClock::now();
  const backups::ScanResult result = scan(dir.path(), "assets_*");
  EXPECT_EQ(result.summary.files, 2u);
  EXPECT_EQ(result.summary.future_clamped, 1u);
  EXPECT_EQ(result.summary.example_future, "assets_skewed.dump");
  EXPECT_EQ(result.summary.newest->name, "assets_skewed.dump");
  EXPECT_GE(result.summary.newest->timestamp, seconds_since_epoch(before) - 1);
  EXPECT_LE(result.summary.newest->timestamp, seconds_since_epoch(SystemClock::now()) + 1);
}

TEST(BackupScan, RecursesOnlyWhenAskedAndNeverThroughLinks) {
  TempDir dir;
  TempDir elsewhere;
  make_backup(dir / "assets_top.dump", 3h);
  make_backup(dir / "2024/05/assets_nested.dump", 1h);
  make_backup(dir / ".snapshots/assets_hidden.dump", 30min);
  make_backup(elsewhere / "assets_linked_dir.dump", 20min);
  fs::create_directory_symlink(elsewhere.path(), dir / "linked");
  fs::create_directory_symlink(dir.path(), dir / "2024/loop");
  make_backup(elsewhere / "assets_target.dump", 2h);
  fs::create_symlink(elsewhere / "assets_target.dump", dir / "assets_link.dump");

  const backups::ScanResult flat = scan(dir.path(), "assets_*");
  EXPECT_EQ(flat.summary.files, 2u);  // the file and the link to a file
  EXPECT_EQ(flat.summary.newest->name, "assets_link.dump");

  const backups::ScanResult deep = scan(dir.path(), "assets_*", true);
  ASSERT_EQ(deep.error, backups::ScanError::none);
  EXPECT_EQ(deep.summary.files, 3u);
  EXPECT_EQ(deep.summary.newest->path, (dir / "2024/05/assets_nested.dump").string());
}

TEST(BackupScan, DirectoryFaultsAreReported) {
  TempDir dir;
  EXPECT_EQ(scan(dir / "missing", "*").error, backups::ScanError::not_found);
  make_backup(dir / "file", 1h);
  EXPECT_EQ(scan(dir / "file", "*").error, backups::ScanError::other);
  fs::create_symlink(dir / "loop_b", dir / "loop_a");
  fs::create_symlink(dir / "loop_a", dir / "loop_b");
  const backups::ScanResult loop = scan(dir / "loop_a", "*");
  EXPECT_EQ(loop.error, backups::ScanError::other);
  EXPECT_NE(loop.detail.find("symbolic link loop"), std::string::npos) << loop.detail;

  // Matching links that loop or dangle are skipped, not fatal.
  TempDir sets;
  make_backup(sets / "assets_good.dump", 2h);
  fs::create_symlink(sets / "assets_loop2.dump", sets / "assets_loop1.dump");
  fs::create_symlink(sets / "assets_loop1.dump", sets / "assets_loop2.dump");
  fs::create_symlink(sets / "nowhere", sets / "assets_dangling.dump");
  const backups::ScanResult skipped = scan(sets.path(), "assets_*");
  EXPECT_EQ(skipped.error, backups::ScanError::none);
  EXPECT_EQ(skipped.summary.files, 1u);
  EXPECT_EQ(skipped.summary.unreadable, 3u);
}

TEST(BackupScan, UnreadableDirectoryIsPermissionDenied) {
  TempDir dir;
  make_backup(dir / "private/assets_1.dump", 2h);
  fs::permissions(dir / "private", fs::perms::owner_all, fs::perm_options::replace);
  fs::permissions(dir.path(), fs::perms::all, fs::perm_options::replace);
  const int error = as_unprivileged([&] { return static_cast<int>(scan(dir / "private", "*").error); });
  EXPECT_EQ(error, static_cast<int>(backups::ScanError::permission_denied));
}

TEST(BackupsCollector, ReportsAHealthySet) {
  TempDir dir;
  make_backup(dir / "assets_1.sql", 30h, 4096);
  make_backup(dir / "assets_2.sql", 6h, 8192);
  Harness harness(set_yaml(dir.path(), "    pattern: \"assets_*.sql\"\n"));
  harness.run();
  EXPECT_EQ(harness.value("assets_backup_up", "db"), 1);
  EXPECT_EQ(harness.value("assets_backup_files", "db"), 2);
  EXPECT_EQ(harness.value("assets_backup_total_bytes", "db"), 4096 + 8192);
  EXPECT_EQ(harness.value("assets_backup_last_size_bytes", "db"), 8192);
  EXPECT_EQ(harness.value("assets_backup_last_verified", "db"), 1);
  EXPECT_NEAR(*harness.value("assets_backup_last_timestamp_seconds", "db"),
              seconds_since_epoch(SystemClock::now() - 6h), 5);
  EXPECT_NEAR(*harness.value("assets_backup_oldest_timestamp_seconds", "db"),
              seconds_since_epoch(SystemClock::now() - 30h), 5);
  EXPECT_EQ(harness.value("assets_backup_max_age_seconds", "db"), 26 * 3600);
  EXPECT_EQ(harness.value("assets_backup_min_size_bytes", "db"), 1024);
  EXPECT_EQ(harness.value("assets_backup_retention_seconds", "db"), 30 * 86400);
  EXPECT_FALSE(harness.value("assets_backup_restore_test_max_age_seconds", "db"));
  EXPECT_TRUE(harness.reasons("db").empty());
  EXPECT_TRUE(harness.target("db").up) << harness.target("db").detail;
  EXPECT_EQ(harness.target("db").kind, "backup");
}

TEST(BackupsCollector, FailureReasons) {
  TempDir root;
  fs::create_directories(root / "empty");
  make_backup(root / "small/assets_1.sql", 1h, 512);
  make_backup(root / "zero/assets_1.sql", 1h, 0);
  write_file(root / "corrupt/assets_1.sql", std::string(4096, 'x'));
  set_mtime(root / "corrupt/assets_1.sql", SystemClock::now() - 1h);
  make_backup(root / "stale/assets_1.sql", 27h);
  std::string yaml = "backups:\n";
  for (const char* name : {"missing", "empty", "small", "zero", "corrupt", "stale"}) {
    yaml += std::string("  - name: ") + name + "\n    path: " + (root / name).string() + "\n";
  }
  Harness harness(yaml);
  harness.run();

  EXPECT_EQ(harness.value("assets_backup_up", "missing"), 0);
  EXPECT_EQ(harness.reasons("missing"), std::vector<std::string>{"not_found"});
  EXPECT_FALSE(harness.value("assets_backup_files", "missing"));
  EXPECT_EQ(harness.value("assets_backup_max_age_seconds", "missing"), 26 * 3600);

  EXPECT_EQ(harness.value("assets_backup_up", "empty"), 1);
  EXPECT_EQ(harness.value("assets_backup_files", "empty"), 0);
  EXPECT_FALSE(harness.value("assets_backup_last_timestamp_seconds", "empty"));
  EXPECT_EQ(harness.reasons("empty"), std::vector<std::string>{"no_backups"});

  EXPECT_EQ(harness.reasons("small"), std::vector<std::string>{"too_small"});
  EXPECT_EQ(harness.value("assets_backup_last_verified", "small"), 1);

  EXPECT_EQ(harness.reasons("zero"), std::vector<std::string>{"too_small"});
  EXPECT_EQ(harness.value("assets_backup_last_verified", "zero"), 0);
  EXPECT_EQ(harness.value("assets_backup_last_size_bytes", "zero"), 0);

  EXPECT_EQ(harness.reasons("corrupt"), std::vector<std::string>{"verify_failed"});
  EXPECT_EQ(harness.value("assets_backup_last_verified", "corrupt"), 0);
  EXPECT_FALSE(harness.target("corrupt").up);
  EXPECT_NE(harness.target("corrupt").detail.find("trailer"), std::string::npos) << harness.target("corrupt").detail;

  // Staleness is for alerts to judge against max_age; the check command shows it too.
  EXPECT_TRUE(harness.reasons("stale").empty());
  EXPECT_FALSE(harness.target("stale").up);
  EXPECT_EQ(harness.target("stale").reason, "stale");
}

TEST(BackupsCollector, UnreadableNewestBackupIsPermissionDenied) {
  TempDir dir;
  make_backup(dir / "assets_1.sql", 1h);
  fs::permissions(dir / "assets_1.sql", fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  fs::permissions(dir.path(), fs::perms::all, fs::perm_options::replace);
  const int result = as_unprivileged([&] {
    Harness harness(set_yaml(dir.path()));
    harness.run();
    const bool expected = harness.reasons("db") == std::vector<std::string>{"permission_denied"} &&
                          harness.value("assets_backup_last_verified", "db") == 0 &&
                          harness.value("assets_backup_up", "db") == 1;
    return expected ? 0 : 1;
  });
  EXPECT_EQ(result, 0);
}

// Defect 5: the newest backup replaced by a FIFO between the scan and the verification
// held the driver in open() for good. Races the swap against runs; each must end.
TEST(BackupsCollector, NewestBackupSwappedForAFifoNeverHoldsARun) {
  TempDir dir;
  make_backup(dir / "assets_0.sql", 3h);
  const fs::path newest = dir / "assets_1.sql";
  const fs::path regular = dir / "regular.tmp";
  const fs::path fifo = dir / "fifo.tmp";
  std::atomic<bool> swapping{true};
  std::thread swapper([&] {
    for (int i = 0; swapping; ++i) {
      make_backup(regular, 2h, 4096 + static_cast<std::size_t>(i % 64));  // a new identity each time
      fs::rename(regular, newest);
      std::this_thread::yield();
      ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
      fs::rename(fifo, newest);
      std::this_thread::yield();
    }
  });
  Harness harness(set_yaml(dir.path(), "    pattern: \"assets_*\"\n    settle: 1s\n"));
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  int runs = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto run = std::async(std::launch::async, [&] { harness.run(2s); });
    if (run.wait_for(5s) != std::future_status::ready) {
      swapping = false;
      swapper.join();
      // The run is stuck in open(): a writer releases it so the test can end.
      const int writer = open(newest.c_str(), O_WRONLY | O_NONBLOCK);
      if (writer >= 0) close(writer);
      run.wait();
      FAIL() << "a run was held by a FIFO after " << runs << " runs";
    }
    ++runs;
  }
  swapping = false;
  swapper.join();
  EXPECT_GT(runs, 10);
}

// Issue 13, item 5: touching the newest dump hid it for the settle time, the scan fell back
// to the file before it, and its failed verification resolved, then fired again.
TEST(BackupsCollector, ATouchedNewestBackupKeepsItsVerdictWhileItSettles) {
  TempDir dir;
  make_backup(dir / "assets_1.sql", 20h, 4096);
  const fs::path newest = dir / "assets_2.sql";
  write_file(newest, std::string(4096, '-'));  // no pg_dump trailer: fails verification
  set_mtime(newest, SystemClock::now() - 2h);
  Harness harness(set_yaml(dir.path(), "    pattern: \"assets_*\"\n    settle: 60s\n    interval: 1s\n    timeout: 500ms\n"));
  harness.run();
  ASSERT_EQ(harness.reasons("db"), std::vector<std::string>{"verify_failed"});
  const auto newest_time = harness.value("assets_backup_last_timestamp_seconds", "db");

  set_mtime(newest, SystemClock::now());  // touched: settling for a minute
  std::this_thread::sleep_for(1100ms);
  harness.run();
  EXPECT_EQ(harness.reasons("db"), std::vector<std::string>{"verify_failed"});
  EXPECT_EQ(harness.value("assets_backup_last_verified", "db"), 0);
  EXPECT_EQ(harness.value("assets_backup_last_timestamp_seconds", "db"), newest_time) << "fell back to the older file";
  EXPECT_NE(harness.target("db").detail.find("settling"), std::string::npos) << harness.target("db").detail;
}

// Issue 14: the collector's whole output on a fixed input, checked in.
TEST(BackupsCollector, GoldenExposition) {
  TempDir dir;
  const auto at = [](std::int64_t unix_seconds) { return SystemClock::time_point(std::chrono::seconds(unix_seconds)); };
  for (int day = 0; day < 3; ++day) {
    const fs::path file = dir / "db" / ("assets_" + std::to_string(day) + ".sql");
    make_backup(file, 0s, 4096 + static_cast<std::size_t>(day));
    set_mtime(file, at(1764547200 + day * 86400));  // 2025-12-01 00:00 UTC and the two days after
  }
  write_file(dir / "db" / "restore-test.json",
             R"({"status":"success","finished_at":"2025-12-02T03:31:12Z","backup":"assets_1.sql","duration_seconds":4})");
  write_file(dir / "media" / "media_0.tar", std::string(100, 'x'));
  set_mtime(dir / "media" / "media_0.tar", at(1764547200));
  Harness harness("backups:\n  - name: db\n    path: " + (dir / "db").string() +
                  "\n    pattern: \"assets_*\"\n    restore_test:\n      status_file: " +
                  (dir / "db" / "restore-test.json").string() + "\n  - name: media\n    path: " +
                  (dir / "media").string() + "\n    verify: none\n    min_size: 1KiB\n    max_age: 8d\n" +
                  "  - name: missing\n    path: " + (dir / "missing").string() + "\n");
  harness.run();
  testing::expect_golden_exposition(harness.result(), "backups");
}

TEST(BackupsCollector, VerificationIsCachedByFileIdentity) {
  TempDir dir;
  const fs::path file = dir / "assets_1.sql";
  make_backup(file, 2h, 4096);
  Harness harness(set_yaml(dir.path(), "    interval: 1s\n    timeout: 500ms\n"));
  harness.run();
  EXPECT_EQ(harness.value("assets_backup_last_verified", "db"), 1);

  // Same inode, size and mtime with different bytes: the cached verdict stands (not re-read).
  damage_trailer_keeping_identity(file, 4096);
  std::this_thread::sleep_for(1100ms);
  harness.run();
  EXPECT_EQ(harness.value("assets_backup_last_verified", "db"), 1);

  // A new mtime is a new file version: read again, now failing.
  set_mtime(file, SystemClock::now() - 90min);
  std::this_thread::sleep_for(1100ms);
  harness.run();
  EXPECT_EQ(harness.value("assets_backup_last_verified", "db"), 0);
  EXPECT_EQ(harness.reasons("db"), std::vector<std::string>{"verify_failed"});
}

// Defect 8: a reload that changed the section rebuilt the collector and read every dump
// again. The successor takes the verdicts over, keyed by file identity.
TEST(BackupsCollector, AReplacementTakesOverVerdictsOfUnchangedFiles) {
  TempDir dir;
  const fs::path file = dir / "assets_1.sql";
  make_backup(file, 2h, 4096);
  Harness before(set_yaml(dir.path(), "    max_age: 26h\n"));
  before.run();
  ASSERT_EQ(before.value("assets_backup_last_verified", "db"), 1);

  // The same identity with different bytes: only a cached verdict still says 1.
  damage_trailer_keeping_identity(file, 4096);

  Harness after(set_yaml(dir.path(), "    max_age: 30h\n"));
  after.spec().collector->take_over(*before.spec().collector);
  after.run();
  EXPECT_EQ(after.value("assets_backup_last_verified", "db"), 1) << "the verdict was not taken over";

  Harness other_mode(set_yaml(dir.path(), "    verify: plain\n"));
  other_mode.spec().collector->take_over(*after.spec().collector);
  other_mode.run();
  EXPECT_EQ(other_mode.value("assets_backup_last_verified", "db"), 0) << "a verdict of another verify mode was kept";
}

TEST(BackupsCollector, AVerificationThatRunsOutOfTimeContinuesNextRun) {
  TempDir dir;
  std::string dump;
  for (int i = 0; dump.size() < (2 << 20); ++i) dump += "INSERT INTO t VALUES (" + std::to_string(i) + ");\n";
  dump += kPlainDump;
  // A gzip made by the system's gzip(1), like pg-backup.sh does.
  write_file(dir / "assets_1.sql", dump);
  ASSERT_EQ(run_command({"gzip", "-n", (dir / "assets_1.sql").string()}), 0);
  set_mtime(dir / "assets_1.sql.gz", SystemClock::now() - 1h);
  Harness harness(set_yaml(dir.path()));

  harness.run(0s);  // no time at all: the scan completes, the check does not start
  EXPECT_EQ(harness.value("assets_backup_up", "db"), 1);
  EXPECT_FALSE(harness.value("assets_backup_last_verified", "db"));
  EXPECT_NE(harness.target("db").detail.find("in progress"), std::string::npos) << harness.target("db").detail;

  harness.run();
  EXPECT_EQ(harness.value("assets_backup_last_verified", "db"), 1) << harness.target("db").detail;
  EXPECT_NE(harness.target("db").detail.find("gzip dump verified"), std::string::npos) << harness.target("db").detail;
}

TEST(BackupsCollector, VerifyModes) {
  TempDir root;
  write_file(root / "none/assets_1.dump", std::string(4096, 'x'));
  set_mtime(root / "none/assets_1.dump", SystemClock::now() - 1h);
  write_file(root / "custom/assets_1.bin", fixture("small.dump"));
  set_mtime(root / "custom/assets_1.bin", SystemClock::now() - 1h);
  const std::string yaml = "backups:\n"
                           "  - name: none\n    path: " + (root / "none").string() + "\n    verify: none\n"
                           "  - name: custom\n    path: " + (root / "custom").string() +
                           "\n    verify: custom\n    min_size: 1KiB\n";
  Harness harness(yaml);
  harness.run();
  EXPECT_FALSE(harness.value("assets_backup_last_verified", "none"));
  EXPECT_TRUE(harness.reasons("none").empty());
  EXPECT_EQ(harness.value("assets_backup_last_verified", "custom"), 1) << harness.target("custom").detail;
}

TEST(BackupsCollector, RestoreTestStatusFile) {
  TempDir dir;
  make_backup(dir / "assets_1.sql", 1h);
  const std::string restore = "    pattern: \"assets_*\"\n    restore_test:\n      status_file: " + (dir / "restore-test.json").string() +
                              "\n      max_age: 92d\n";
  Harness harness(set_yaml(dir.path(), restore));

  harness.run();
  EXPECT_EQ(harness.value("assets_backup_restore_test_last_success_timestamp_seconds", "db"), 0);
  EXPECT_EQ(harness.value("assets_backup_restore_test_max_age_seconds", "db"), 92 * 86400);
  EXPECT_EQ(harness.target("db").reason, "restore_test_stale");
  EXPECT_NE(harness.target("db").detail.find("never run"), std::string::npos) << harness.target("db").detail;

  write_file(dir / "restore-test.json",
             R"({"status":"success","finished_at":"2024-05-01T03:31:12Z","backup":"assets_1.sql","duration_seconds":4})");
  Harness second(set_yaml(dir.path(), restore));
  second.run();
  EXPECT_EQ(second.value("assets_backup_restore_test_last_success_timestamp_seconds", "db"), 1714534272);

  write_file(dir / "restore-test.json",
             R"({"status":"failure","finished_at":"2024-08-01T03:31:12Z","error":"pg_restore failed",)"
             R"("last_success_at":"2024-05-01T03:31:12Z"})");
  Harness third(set_yaml(dir.path(), restore));
  third.run();
  EXPECT_EQ(third.value("assets_backup_restore_test_last_success_timestamp_seconds", "db"), 1714534272);
  EXPECT_NE(third.target("db").detail.find("pg_restore failed"), std::string::npos) << third.target("db").detail;

  write_file(dir / "restore-test.json", "{not json");
  Harness fourth(set_yaml(dir.path(), restore));
  fourth.run();
  EXPECT_EQ(fourth.value("assets_backup_restore_test_last_success_timestamp_seconds", "db"), 0);
  EXPECT_EQ(fourth.value("assets_backup_up", "db"), 1);
}

TEST(BackupsCollector, EachSetRunsOnItsOwnInterval) {
  TempDir fast_dir;
  TempDir slow_dir;
  make_backup(fast_dir / "assets_1.sql", 2h);
  make_backup(slow_dir / "assets_1.sql", 2h);
  const std::string yaml = "backups:\n"
                           "  - name: fast\n    path: " + fast_dir.path().string() +
                           "\n    interval: 1s\n    timeout: 500ms\n"
                           "  - name: slow\n    path: " + slow_dir.path().string() +
                           "\n    interval: 1h\n    timeout: 20s\n";
  Harness harness(yaml);
  EXPECT_EQ(harness.spec().interval, 1s);
  EXPECT_EQ(harness.spec().timeout, 20s);
  harness.run();
  make_backup(fast_dir / "assets_2.sql", 1h);
  make_backup(slow_dir / "assets_2.sql", 1h);
  std::this_thread::sleep_for(1100ms);
  harness.run();
  EXPECT_EQ(harness.value("assets_backup_files", "fast"), 2);
  EXPECT_EQ(harness.value("assets_backup_files", "slow"), 1);  // not due: last run's values
}

TEST(BackupsCollector, DisabledWithoutSetsAndTimestampPatternsAreValidated) {
  EXPECT_FALSE(testing::configured_collector("backups", "global:\n  interval: 30s\n"));
  const ConfigResult bad = parse_config("backups:\n  - name: db\n    path: /tmp\n    timestamp: \"db_%Y.dump\"\n", "t.yml");
  ASSERT_FALSE(bad.errors.empty());
  EXPECT_NE(bad.errors.front().to_string().find("timestamp"), std::string::npos) << bad.errors.front().to_string();
  const ConfigResult good =
      parse_config("backups:\n  - name: db\n    path: /tmp\n    timestamp: \"db_%Y-%m-%d_%H%M.dump\"\n", "t.yml");
  EXPECT_TRUE(good.errors.empty());
}

}  // namespace
}  // namespace assets::testing
