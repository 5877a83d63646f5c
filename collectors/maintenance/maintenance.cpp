#include "collectors/maintenance/maintenance.h"

#include <cerrno>
#include <chrono>

#include "agent/files.h"
#include "agent/metrics.h"
#include "agent/units.h"
#include "collectors/maintenance/window.h"

namespace assets {
namespace {

class MaintenanceCollector final : public Collector {
 public:
  explicit MaintenanceCollector(MaintenanceConfig config) : config_(std::move(config)) {}

 protected:
  CollectResult collect(const CollectContext& /*context*/) override {
    MetricsBuilder builder;
    GaugeFamily& active = builder.gauge("assets_maintenance_active",
                                        "1 while a maintenance window (assets-agent maintenance start) is open.");
    GaugeFamily& start = builder.gauge("assets_maintenance_start_timestamp_seconds",
                                       "Start of the last maintenance window, Unix seconds; absent without one.");
    GaugeFamily& end = builder.gauge("assets_maintenance_end_timestamp_seconds",
                                     "End of the last maintenance window, Unix seconds; absent without one.");
    GaugeFamily& file_ok = builder.gauge("assets_maintenance_state_file_valid",
                                         "0 when the maintenance state file exists but cannot be read or parsed.");
    CollectResult result;
    TargetStatus& status = result.targets.emplace_back();
    status.name = config_.state_file;
    status.kind = "maintenance";
    status.up = true;

    FileReadError read_error;
    const auto text = read_regular_file(config_.state_file, kMaxMaintenanceFileBytes, read_error);
    std::optional<MaintenanceWindow> window;
    if (!text && read_error.error_number == ENOENT) {
      status.detail = "no maintenance window";
    } else if (!text) {
      status.up = false;
      status.reason = "unreadable";
      status.detail = read_error.message;
    } else {
      std::string parse_error;
      window = parse_maintenance_window(*text, parse_error);
      if (!window) {
        status.up = false;
        status.reason = "invalid";
        status.detail = config_.state_file + ": " + parse_error;
      }
    }
    // An unreadable or invalid file opens no window: alerts are never hidden by mistake.
    const double now = unix_time_now();
    active.add({}, window && window->active(now) ? 1 : 0);
    file_ok.add({}, status.up ? 1 : 0);
    if (window) {
      start.add({}, window->start);
      end.add({}, window->end);
      status.detail = std::string(window->active(now) ? "open" : now < window->start ? "not yet open" : "ended") +
                      ", until " + std::to_string(static_cast<long long>(window->end)) +
                      (window->reason.empty() ? "" : ": " + printable_reason(window->reason));
    }
    result.families = builder.take();
    return result;
  }

 private:
  MaintenanceConfig config_;
};

}  // namespace

std::unique_ptr<Collector> make_maintenance_collector(const MaintenanceConfig& config) {
  return std::make_unique<MaintenanceCollector>(config);
}

}  // namespace assets
