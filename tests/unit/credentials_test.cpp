// The credentials collector: files with set modification times, a FIFO, a directory,
// missing files and patterns; the status lines; the golden exposition.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "agent/metrics.h"
#include "agent/utf8.h"
#include "collectors/credentials/credentials.h"
#include "tests/support/cert_factory.h"
#include "tests/support/configured_collector.h"
#include "tests/support/golden.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::TempDir;
using testing::write_file;

constexpr std::chrono::seconds kDay = 24h;

// Sets a file's modification time, as a rotation at that moment would have left it.
void set_modified(const fs::path& path, double unix_seconds) {
  const auto whole = static_cast<time_t>(unix_seconds);
  const timespec times[2] = {{whole, 0}, {whole, static_cast<long>((unix_seconds - static_cast<double>(whole)) * 1e9)}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

double days_ago(double days) {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - days * 86400;
}

struct CredentialsRun {
  // `deadline_passed`: the run starts with its deadline behind it.
  explicit CredentialsRun(const std::string& yaml, bool deadline_passed = false) {
    auto collector = testing::configured_collector("credentials", yaml);
    if (!collector) throw std::runtime_error("credentials not enabled by the test config");
    spec = std::move(*collector);
    CollectContext context;
    context.deadline = std::chrono::steady_clock::now() + (deadline_passed ? -1s : spec.timeout);
    result = spec.collector->run(context);
  }
  std::size_t count(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& family : result.families) {
      if (family.name == name) n += family.metric.size();
    }
    return n;
  }
  std::optional<double> value(const std::string& name, const Labels& subset) const {
    std::optional<double> found;
    for (const auto& family : result.families) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        bool all = true;
        for (const auto& [label, expected] : subset) {
          bool has = false;
          for (const auto& pair : metric.label) has = has || (pair.name == label && pair.value == expected);
          all = all && has;
        }
        if (!all) continue;
        EXPECT_FALSE(found) << name << " matched more than one sample";
        found = metric.gauge.value;
      }
    }
    return found;
  }
  const TargetStatus* target(const std::string& name) const {
    for (const auto& status : result.targets) {
      if (status.name == name) return &status;
    }
    return nullptr;
  }
  ScheduledCollector spec;
  CollectResult result;
};

TEST(CredentialsCollector, AgeFromModificationTimeAgainstEachPolicy) {
  TempDir dir;
  write_file(dir / "secrets/db_password", "never read");
  write_file(dir / "secrets/django_secret_key", "never read");
  write_file(dir / "tokens/ci-deploy.token", "x");
  write_file(dir / "tokens/ci-registry.token", "x");
  set_modified(dir / "secrets/db_password", days_ago(10.5));
  set_modified(dir / "secrets/django_secret_key", days_ago(200));
  set_modified(dir / "tokens/ci-deploy.token", days_ago(80));
  set_modified(dir / "tokens/ci-registry.token", days_ago(95.5));
  const std::string root = dir.path().string();
  CredentialsRun run("credentials:\n  warn_before: 10d\n  files:\n"
          "    - {name: db_password, path: " + root + "/secrets/db_password}\n"
          "    - {name: django_secret_key, path: " + root + "/secrets/django_secret_key, max_age: 365d, warn_before: 30d}\n"
          "    - {name: ci_tokens, path: \"" + root + "/tokens/*.token\"}\n");
  const std::string db = root + "/secrets/db_password";
  const std::string deploy = root + "/tokens/ci-deploy.token";
  const std::string registry = root + "/tokens/ci-registry.token";
  EXPECT_EQ(run.value("assets_credential_up", {{"credential", "db_password"}, {"path", db}}), 1);
  EXPECT_NEAR(*run.value("assets_credential_modified_timestamp_seconds", {{"path", db}}), days_ago(10.5), 60);
  EXPECT_NEAR(*run.value("assets_credential_modified_timestamp_seconds", {{"path", registry}}), days_ago(95.5), 60);
  EXPECT_EQ(run.value("assets_credential_max_age_seconds", {{"credential", "db_password"}}), 90 * 86400);
  EXPECT_EQ(run.value("assets_credential_warn_before_seconds", {{"credential", "db_password"}}), 10 * 86400);
  EXPECT_EQ(run.value("assets_credential_max_age_seconds", {{"credential", "django_secret_key"}}), 365 * 86400);
  EXPECT_EQ(run.value("assets_credential_warn_before_seconds", {{"credential", "django_secret_key"}}), 30 * 86400);
  EXPECT_EQ(run.value("assets_credential_up", {{"credential", "ci_tokens"}, {"path", deploy}}), 1);
  EXPECT_EQ(run.value("assets_credential_up", {{"credential", "ci_tokens"}, {"path", registry}}), 1);
  EXPECT_FALSE(run.value("assets_credential_failure", {}));

  ASSERT_NE(run.target("db_password " + db), nullptr);
  EXPECT_TRUE(run.target("db_password " + db)->up);
  EXPECT_EQ(run.target("db_password " + db)->kind, "credential");
  EXPECT_NE(run.target("db_password " + db)->detail.find("rotate within 79d"), std::string::npos)
      << run.target("db_password " + db)->detail;
  EXPECT_NE(run.target("ci_tokens " + deploy)->detail.find("(due soon)"), std::string::npos)
      << run.target("ci_tokens " + deploy)->detail;
  EXPECT_NE(run.target("ci_tokens " + registry)->detail.find("rotation overdue by 5d12h"), std::string::npos)
      << run.target("ci_tokens " + registry)->detail;
}

TEST(CredentialsCollector, MissingFilesPatternsFifosAndDirectoriesAreFailingTargets) {
  TempDir dir;
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0600), 0);
  fs::create_directories(dir / "a-directory");
  const std::string root = dir.path().string();
  // stat() alone: the FIFO, with no writer, would block an open() for ever.
  CredentialsRun run("credentials:\n  files:\n"
          "    - {name: missing, path: " + root + "/missing}\n"
          "    - {name: nothing_matches, path: \"" + root + "/none/*.token\"}\n"
          "    - {name: fifo, path: " + root + "/fifo}\n"
          "    - {name: directory, path: " + root + "/a-directory}\n");
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {"missing", root + "/missing", "not_found"},
      {"nothing_matches", root + "/none/*.token", "not_found"},
      {"fifo", root + "/fifo", "not_a_file"},
      {"directory", root + "/a-directory", "not_a_file"}};
  for (const auto& [credential, path, reason] : cases) {
    SCOPED_TRACE(credential);
    EXPECT_EQ(run.value("assets_credential_up", {{"credential", credential}, {"path", path}}), 0);
    EXPECT_EQ(run.value("assets_credential_failure", {{"credential", credential}, {"path", path}, {"reason", reason}}), 1);
    EXPECT_FALSE(run.value("assets_credential_modified_timestamp_seconds", {{"credential", credential}}));
    const TargetStatus* status = run.target(credential + " " + path);
    ASSERT_NE(status, nullptr);
    EXPECT_FALSE(status->up);
    EXPECT_EQ(status->reason, reason);
    EXPECT_FALSE(status->detail.empty());
  }
}

// From review: a pattern names files; directories it matches are no failure of it.
TEST(CredentialsCollector, APatternWatchesRegularFilesOnly) {
  TempDir dir;
  write_file(dir / "secrets/db_password", "x");
  fs::create_directories(dir / "secrets/a-directory");
  ASSERT_EQ(mkfifo((dir / "secrets/a-fifo").c_str(), 0600), 0);
  fs::create_directories(dir / "empty/only-a-directory");
  const std::string root = dir.path().string();
  CredentialsRun run("credentials:\n  files:\n    - {name: secrets, path: \"" + root + "/secrets/*\"}\n"
                     "    - {name: nothing, path: \"" + root + "/empty/*\"}\n");
  EXPECT_EQ(run.count("assets_credential_up"), 2u);
  EXPECT_EQ(run.value("assets_credential_up", {{"path", root + "/secrets/db_password"}}), 1);
  EXPECT_EQ(run.value("assets_credential_failure", {{"credential", "nothing"}, {"path", root + "/empty/*"},
                                                    {"reason", "not_found"}}),
            1);
}

TEST(CredentialsCollector, APatternMatchingTooManyFilesSaysSo) {
  TempDir dir;
  for (int i = 0; i < 1005; ++i) write_file(dir / ("tokens/t" + std::to_string(10000 + i)), "");
  const std::string pattern = (dir / "tokens/t*").string();
  CredentialsRun run("credentials:\n  files:\n    - {name: tokens, path: \"" + pattern + "\"}\n");
  EXPECT_EQ(run.count("assets_credential_modified_timestamp_seconds"), 1000u);
  EXPECT_EQ(run.value("assets_credential_failure", {{"path", pattern}, {"reason", "too_many_files"}}), 1);
  EXPECT_EQ(run.value("assets_credential_up", {{"path", pattern}}), 0);
}

TEST(CredentialsCollector, FilesLeftWhenTheDeadlinePassesAreTimeouts) {
  TempDir dir;
  write_file(dir / "a", "x");
  write_file(dir / "tokens/b", "x");
  const std::string root = dir.path().string();
  CredentialsRun run("credentials:\n  files:\n    - {name: a, path: " + root + "/a}\n"
                     "    - {name: b, path: \"" + root + "/tokens/*\"}\n",
                     /*deadline_passed=*/true);
  EXPECT_EQ(run.value("assets_credential_failure", {{"credential", "a"}, {"reason", "timeout"}}), 1);
  EXPECT_EQ(run.value("assets_credential_failure", {{"credential", "b"}, {"reason", "timeout"}}), 1);
  EXPECT_EQ(run.value("assets_credential_max_age_seconds", {{"credential", "b"}}), 90 * 86400);
}

TEST(CredentialsCollector, PathsThatAreNotUtf8KeepASeriesEach) {
  TempDir dir;
  write_file(dir / "a\xff", "x");
  write_file(dir / "a\xfe", "x");
  write_file(dir / "a?", "x");
  CredentialsRun run("credentials:\n  files:\n    - {name: odd, path: \"" + dir.path().string() + "/a*\"}\n");
  std::set<std::string> paths;
  for (const auto& family : run.result.families) {
    if (family.name != "assets_credential_up") continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "path") paths.insert(label.value);
      }
    }
  }
  EXPECT_EQ(paths.size(), 3u);
  EXPECT_TRUE(paths.contains(dir.path().string() + "/a?"));
  for (const auto& path : paths) EXPECT_TRUE(is_valid_utf8(path)) << path;
}

TEST(CredentialsCollector, NoFilesEnablesNothing) {
  EXPECT_FALSE(testing::configured_collector("credentials", "credentials:\n  files: []\n"));
  EXPECT_FALSE(testing::configured_collector("credentials", "credentials:\n"));
  EXPECT_FALSE(testing::configured_collector(
      "credentials", "credentials:\n  enabled: false\n  files:\n    - {name: a, path: /run/secrets/a}\n"));
}

TEST(CredentialsRotation, StatusLines) {
  CredentialConfig policy{.name = "db_password", .path = "/run/secrets/db_password", .max_age = 90 * kDay,
                          .warn_before = 14 * kDay};
  EXPECT_EQ(describe_rotation(10 * kDay + 5min + 30s, policy), "modified 10d5m ago; rotate within 79d23h54m (max_age 90d)");
  EXPECT_EQ(describe_rotation(80 * kDay, policy), "modified 80d ago; rotate within 10d (due soon) (max_age 90d)");
  EXPECT_EQ(describe_rotation(90 * kDay, policy), "modified 90d ago; rotation due now (max_age 90d)");
  EXPECT_EQ(describe_rotation(90 * kDay - 30s, policy), "modified 89d23h59m ago; rotation due now (max_age 90d)");
  EXPECT_EQ(describe_rotation(100 * kDay, policy), "modified 100d ago; rotation overdue by 10d (max_age 90d)");
  EXPECT_EQ(describe_rotation(-1h, policy), "modified in the future (check the clock); max_age 90d");
}

TEST(CredentialsCollectorGolden, GoldenExposition) {
  TempDir dir;
  write_file(dir / "secrets/db_password", "x");
  write_file(dir / "secrets/db_monitor_password", "x");
  write_file(dir / "tokens/ci-deploy.token", "x");
  ASSERT_EQ(mkfifo((dir / "secrets/pipe").c_str(), 0600), 0);
  // Fixed times (2026-11-01 and 2026-06-01 UTC) make the exposition fixed.
  set_modified(dir / "secrets/db_password", 1793491200);
  set_modified(dir / "secrets/db_monitor_password", 1793491200.5);
  set_modified(dir / "tokens/ci-deploy.token", 1780272000);
  const std::string root = dir.path().string();
  CredentialsRun run("credentials:\n  files:\n"
          "    - {name: compose_secrets, path: \"" + root + "/secrets/db_*password\"}\n"
          "    - {name: ci_deploy_token, path: " + root + "/tokens/ci-deploy.token, max_age: 30d, warn_before: 7d}\n"
          "    - {name: registry_token, path: " + root + "/tokens/registry.token}\n"
          "    - {name: pipe, path: " + root + "/secrets/pipe}\n");
  testing::expect_golden_exposition(run.result, "credentials", {.timing_families = {}, .replacements = {{root, "<testdata>"}}});
}

}  // namespace
}  // namespace assets
