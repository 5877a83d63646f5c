#pragma once
// The backups collector's section: a list of backup sets, each a directory of pg_dump
// files with its policy. A set's file-name timestamp pattern is kept compiled.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/collector.h"
#include "collectors/backups/name_time.h"

namespace assets {

struct RestoreTestConfig {
  std::string status_file;
  Duration max_age = 92 * std::chrono::hours(24);
  bool operator==(const RestoreTestConfig&) const = default;
};

enum class BackupVerify { auto_detect, none, plain, gzip, custom };

struct BackupSetConfig {
  std::string name;
  std::string path;
  std::string pattern = "*";
  bool recursive = false;
  // nullopt: a backup's time is its mtime (`timestamp: mtime`); else read from its name.
  std::optional<backups::NameTimePattern> name_time;
  Duration max_age = std::chrono::hours(26);
  std::uint64_t min_size = 1024;
  Duration retention = 30 * std::chrono::hours(24);
  Duration settle = std::chrono::seconds(60);
  BackupVerify verify = BackupVerify::auto_detect;
  std::string pg_restore;  // path of pg_restore to list custom dumps with; empty: parse the TOC
  std::optional<RestoreTestConfig> restore_test;
  Duration interval{};  // global's where the set gives none
  Duration timeout{};
  bool operator==(const BackupSetConfig&) const = default;
};

struct BackupsConfig : CollectorSection {
  std::vector<BackupSetConfig> sets;
  // Sets checked at the same time: global.max_parallel.
  int max_parallel = 8;
  bool operator==(const BackupsConfig&) const = default;
};

// nullptr for an empty list.
std::shared_ptr<const BackupsConfig> decode_backups_section(const SectionInput& input);

}  // namespace assets
