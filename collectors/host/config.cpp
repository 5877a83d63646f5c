#include "collectors/host/config.h"

#include "agent/config_reader.h"

namespace assets {

std::shared_ptr<const HostConfig> decode_host_section(const SectionInput& input) {
  ConfigReader& reader = input.reader;
  MapSection section = open_map_section(reader, input.node, "host", input.global);
  auto host = std::make_shared<HostConfig>();
  host->interval = section.schedule.interval;
  host->timeout = section.schedule.timeout;
  if (section.map) {
    MapReader& map = *section.map;
    if (map.read("facts_file", host->facts_file) && host->facts_file.empty()) {
      reader.error(map.get("facts_file"), map.path("facts_file"), "must not be empty");
    }
    for (const auto& [key, value] : {std::pair{"stale_after", &host->stale_after},
                                     std::pair{"security_updates_max_pending", &host->security_updates_max_pending}}) {
      map.read_duration(key, *value);
      if (map.has(key) && value->count() <= 0) {
        reader.error(map.get(key), map.path(key), "must be greater than 0");
      }
    }
    map.finish();
  }
  return section.enabled ? host : nullptr;
}

}  // namespace assets
