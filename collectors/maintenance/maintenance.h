#pragma once
// Maintenance windows: reads the state file `assets-agent maintenance start|end` writes and
// exports whether a window is open and when it ends, for the rules that silence what a
// rollout makes flap. A missing file is no window, not a failure.
#include <memory>

#include "agent/collector.h"
#include "collectors/maintenance/config.h"

namespace assets {

std::unique_ptr<Collector> make_maintenance_collector(const MaintenanceConfig& config);

}  // namespace assets
