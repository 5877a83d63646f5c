#include "collectors/backups/config.h"

#include <algorithm>
#include <set>

#include "agent/config_reader.h"

namespace assets {
namespace {

const std::pair<std::string_view, BackupVerify> kBackupVerifyModes[] = {{"auto", BackupVerify::auto_detect},
                                                                       {"none", BackupVerify::none},
                                                                       {"plain", BackupVerify::plain},
                                                                       {"gzip", BackupVerify::gzip},
                                                                       {"custom", BackupVerify::custom}};

std::optional<RestoreTestConfig> decode_restore_test(ConfigReader& reader, MapReader& set_map) {
  const YAML::Node node = set_map.get("restore_test");
  if (!node.IsDefined()) return std::nullopt;
  MapReader map(reader, node, set_map.path("restore_test"));
  RestoreTestConfig test;
  map.require("status_file");
  map.read("status_file", test.status_file);
  map.read_duration("max_age", test.max_age);
  map.finish();
  return test;
}

}  // namespace

std::shared_ptr<const BackupsConfig> decode_backups_section(const SectionInput& input) {
  ConfigReader& reader = input.reader;
  if (!input.node.IsSequence()) {
    reader.error(input.node, "backups", "must be a list of backup sets");
    return nullptr;
  }
  auto section = std::make_shared<BackupsConfig>();
  section->max_parallel = input.global.max_parallel;
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < input.node.size(); ++i) {
    MapReader map(reader, input.node[i], indexed("backups", i));
    if (!map.valid()) continue;
    BackupSetConfig set;
    map.require("name");
    map.require("path");
    if (map.read("name", set.name) && set.name.empty()) {
      reader.error(map.get("name"), map.path("name"), "must not be empty");
    }
    if (!set.name.empty() && !names.insert(set.name).second) {
      reader.error(map.get("name"), map.path("name"), "duplicate backup set name " + quote(set.name));
    }
    if (map.read("path", set.path) && set.path.empty()) {
      reader.error(map.get("path"), map.path("path"), "must not be empty");
    }
    map.read("pattern", set.pattern);
    map.read("recursive", set.recursive);
    if (std::string timestamp; map.read("timestamp", timestamp) && timestamp != "mtime") {
      std::string problem;
      set.name_time = backups::NameTimePattern::compile(timestamp, problem);
      if (!set.name_time) reader.error(map.get("timestamp"), map.path("timestamp"), problem);
    }
    map.read_duration("max_age", set.max_age);
    map.read_size("min_size", set.min_size);
    map.read_duration("retention", set.retention);
    map.read_duration("settle", set.settle);
    map.read_one_of("verify", set.verify, kBackupVerifyModes);
    map.read("pg_restore", set.pg_restore);
    set.restore_test = decode_restore_test(reader, map);
    const Schedule schedule = read_schedule(reader, map, input.global);
    set.interval = schedule.interval;
    set.timeout = schedule.timeout;
    if (set.retention.count() > 0 && set.max_age > set.retention) {
      reader.error(map.get("retention"), map.path("retention"), "must not be shorter than max_age");
    }
    map.finish();
    section->sets.push_back(std::move(set));
  }
  if (section->sets.empty()) return nullptr;
  // The driver runs the collector at the shortest set interval; each set keeps its own
  // deadline within the run.
  section->interval = Duration::max();
  for (const BackupSetConfig& set : section->sets) {
    section->interval = std::min(section->interval, set.interval);
    section->timeout = std::max(section->timeout, set.timeout);
  }
  return section;
}

}  // namespace assets
