#include "collectors/maintenance/config.h"

#include "agent/config_reader.h"

namespace assets {

std::shared_ptr<const MaintenanceConfig> decode_maintenance_section(const SectionInput& input) {
  ConfigReader& reader = input.reader;
  MapSection section = open_map_section(reader, input.node, "maintenance", input.global);
  auto maintenance = std::make_shared<MaintenanceConfig>();
  maintenance->interval = section.schedule.interval;
  maintenance->timeout = section.schedule.timeout;
  if (section.map) {
    MapReader& map = *section.map;
    if (map.read("state_file", maintenance->state_file) && maintenance->state_file.empty()) {
      reader.error(map.get("state_file"), map.path("state_file"), "must not be empty");
    }
    map.finish();
  }
  return section.enabled ? maintenance : nullptr;
}

}  // namespace assets
