#pragma once
// The maintenance collector's section: where `assets-agent maintenance` writes the window.
#include <memory>
#include <string>

#include "agent/collector.h"

namespace assets {

inline constexpr const char* kDefaultMaintenanceStateFile = "/var/lib/assets-agent/maintenance.json";

struct MaintenanceConfig : CollectorSection {
  std::string state_file = kDefaultMaintenanceStateFile;
  bool operator==(const MaintenanceConfig&) const = default;
};

// `maintenance:` alone enables the defaults; nullptr with `enabled: false`.
std::shared_ptr<const MaintenanceConfig> decode_maintenance_section(const SectionInput& input);

}  // namespace assets
