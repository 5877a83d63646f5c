#pragma once
// One pass over a backup set's directory. The result is a summary (counts, sums, the
// oldest time and the newest file), so memory does not grow with the number of files.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/units.h"
#include "collectors/backups/name_time.h"
#include "collectors/backups/verify.h"

namespace assets::backups {

// What identifies one version of a file: a verification is valid while all of it holds.
struct FileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

struct BackupFile {
  std::string path;
  std::string name;
  FileIdentity identity;
  double timestamp = 0;  // from the name or the mtime; never later than the scan's `now`
};

struct ScanOptions {
  std::string directory;
  std::string pattern;  // glob matched against file names
  bool recursive = false;
  const NameTimePattern* name_time = nullptr;  // nullptr: a backup's time is its mtime
  std::chrono::system_clock::time_point now;
  Duration settle{0};
  Budget budget;
};

struct ScanSummary {
  std::uint64_t files = 0;
  std::uint64_t total_bytes = 0;
  double oldest_timestamp = 0;
  std::optional<BackupFile> newest;
  // Matching files left out, and why.
  std::uint64_t temporary = 0;  // *.tmp, *.partial (dot-files are never looked at)
  std::uint64_t settling = 0;   // modified within the last `settle`
  std::uint64_t unparsable_names = 0;
  std::uint64_t unreadable = 0;  // could not be stat'ed (dangling link, symlink loop, no permission)
  // Files dated in the future, counted with the scan's `now` as their time.
  std::uint64_t future_clamped = 0;
  std::string example_future;  // one such name, for the log
};

enum class ScanError { none, not_found, permission_denied, other };

struct ScanResult {
  ScanError error = ScanError::none;
  std::string detail;
  ScanSummary summary;
};

// Symbolic links to files are followed; links to directories are not, so a scan cannot
// loop. Hidden entries (names starting with '.') are skipped, directories included.
ScanResult scan_backup_directory(const ScanOptions& options);

}  // namespace assets::backups
