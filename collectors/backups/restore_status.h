#pragma once
// The restore test's status file, written by deploy/backup/restore-test.sh:
//   {"status":"success","finished_at":"2024-05-01T03:31:12Z","backup":"assets_....dump",
//    "duration_seconds":42,"last_success_at":"2024-05-01T03:31:12Z"}
// A failed test writes "status":"failure" and an "error", and carries "last_success_at"
// over from the previous file, so the time of the last success survives failures.
#include <optional>
#include <string>
#include <string_view>

namespace assets::backups {

struct RestoreTestStatus {
  bool success = false;
  double finished_at = 0;                // seconds since the epoch
  std::optional<double> last_success_at;  // seconds since the epoch
  std::string backup;
  std::string error;

  // The time of the last successful restore test this file records.
  std::optional<double> last_success() const {
    if (success) return finished_at;
    return last_success_at;
  }
};

// nullopt, with `error` set, when the text is not such a status document.
std::optional<RestoreTestStatus> parse_restore_test_status(std::string_view json, std::string& error);

// "2024-05-01T03:31:12Z", "2024-05-01T05:31:12.5+02:00": seconds since the epoch.
std::optional<double> parse_rfc3339(std::string_view text);

}  // namespace assets::backups
