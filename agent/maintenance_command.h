#pragma once
// `assets-agent maintenance start|end|status`: opens, closes and shows the maintenance
// window in the state file the running agent's maintenance collector reads. The agent is
// not asked anything: it sees the file at its next run, whether it runs or not.
#include <iosfwd>
#include <string>

#include "agent/units.h"

namespace assets {

struct MaintenanceOptions {
  std::string state_file;
  Duration length{};   // start: how long the window lasts (at most kMaxMaintenanceWindow)
  std::string reason;  // start: shown on the status page and logged, never a label
};

// Exit codes: 0 done; 1 the file could not be written or read; 2 a bad --for.
int run_maintenance_start(const MaintenanceOptions& options, std::ostream& out, std::ostream& err);
int run_maintenance_end(const MaintenanceOptions& options, std::ostream& out, std::ostream& err);
int run_maintenance_status(const MaintenanceOptions& options, std::ostream& out, std::ostream& err);

}  // namespace assets
