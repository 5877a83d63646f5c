// The shipped backup units and scripts: `systemd-analyze verify` on the units as they
// would be installed, and the scripts' syntax (plus shellcheck where it is installed).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace assets::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kDeployDir = "deploy/backup";
const std::vector<std::string> kUnits = {"assets-backup.service", "assets-backup.timer", "assets-restore-test.service",
                                         "assets-restore-test.timer"};
const std::vector<std::string> kScripts = {"pg-backup.sh", "restore-test.sh"};
// Where the units expect the scripts (their ExecStart=).
const fs::path kInstalledScripts = "usr/local/lib/assets-agent";
const fs::path kSystemUnits = "/usr/lib/systemd/system";

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// systemd-analyze verify checks that ExecStart= programs exist, so the units are verified
// in a root directory laid out as an installed system: systemd's own units (for
// sysinit.target and friends), ours in /etc/systemd/system, the scripts where ExecStart
// points.
TEST(BackupDeploy, SystemdUnitsVerify) {
  const std::string analyze = find_program("systemd-analyze");
  ASSETS_REQUIRE_COMPONENT(!analyze.empty() && fs::is_directory(kSystemUnits), "systemd-analyze (Debian systemd)");
  TempDir root;
  fs::create_directories(root / kSystemUnits.relative_path().string());
  fs::copy(kSystemUnits, root / kSystemUnits.relative_path().string(),
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::create_directories(root / kInstalledScripts.string());
  for (const auto& script : kScripts) {
    fs::copy_file(source_dir() / kDeployDir / script, root / (kInstalledScripts / script).string());
  }
  fs::create_directories(root / "etc/systemd/system");
  for (const auto& unit : kUnits) {
    fs::copy_file(source_dir() / kDeployDir / unit, root / ("etc/systemd/system/" + unit));
  }
  std::vector<std::string> argv = {analyze, "verify", "--root=" + root.path().string()};
  argv.insert(argv.end(), kUnits.begin(), kUnits.end());
  std::string output;
  EXPECT_EQ(run_command(argv, &output), 0) << output;
  // Unknown keys and other soft problems are only warnings: they must not be there either.
  EXPECT_EQ(output, "");
}

TEST(BackupDeploy, TimersFollowTheBackupPolicy) {
  const std::string analyze = find_program("systemd-analyze");
  ASSETS_REQUIRE_COMPONENT(!analyze.empty(), "systemd-analyze (Debian systemd)");
  std::string output;
  ASSERT_EQ(run_command({analyze, "calendar", "--iterations=5", "*-01,04,07,10-01 04:00:00 UTC"}, &output), 0)
      << output;
  for (const char* month : {"-01-01 04:00:00 UTC", "-04-01 04:00:00 UTC", "-07-01 04:00:00 UTC",
                            "-10-01 04:00:00 UTC"}) {
    EXPECT_NE(output.find(month), std::string::npos) << month << "\n" << output;
  }
  const std::string backup_timer = read_text(source_dir() / kDeployDir / "assets-backup.timer");
  const std::string restore_timer = read_text(source_dir() / kDeployDir / "assets-restore-test.timer");
  EXPECT_NE(backup_timer.find("\nOnCalendar=*-*-* 02:00:00 UTC\n"), std::string::npos) << backup_timer;
  EXPECT_NE(restore_timer.find("\nOnCalendar=*-01,04,07,10-01 04:00:00 UTC\n"), std::string::npos) << restore_timer;
}

TEST(BackupDeploy, ScriptsParseAndRejectBadArguments) {
  for (const auto& script : kScripts) {
    const std::string path = (source_dir() / kDeployDir / script).string();
    std::string output;
    EXPECT_EQ(run_command({"bash", "-n", path}, &output), 0) << script << ": " << output;
    EXPECT_EQ(run_command({path, "--no-such-option"}, &output), 2) << script << ": " << output;
    EXPECT_NE(output.find("Usage:"), std::string::npos) << script << ": " << output;
  }
}

TEST(BackupDeploy, ScriptsAreShellcheckClean) {
  const std::string shellcheck = find_program("shellcheck");
  if (shellcheck.empty()) GTEST_SKIP() << "shellcheck is not installed (optional lint)";
  for (const auto& script : kScripts) {
    std::string output;
    EXPECT_EQ(run_command({shellcheck, (source_dir() / kDeployDir / script).string()}, &output), 0) << output;
  }
}

}  // namespace
}  // namespace assets::testing
