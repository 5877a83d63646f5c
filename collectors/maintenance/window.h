#pragma once
// A maintenance window as `assets-agent maintenance start` writes it and the maintenance
// collector reads it: a small JSON file, {"start": unix, "end": unix, "reason": text}.
// Parsing apart from I/O; the end is always set, so a window ends by itself.
#include <optional>
#include <string>
#include <string_view>

#include "agent/units.h"

namespace assets {

// The longest window `maintenance start` opens: a forgotten one must not hide alerts for days.
inline constexpr Duration kMaxMaintenanceWindow = std::chrono::hours(24);
// Bounds the reason (it reaches the status page and the log, never a label).
inline constexpr std::size_t kMaxMaintenanceReason = 200;
inline constexpr std::uint64_t kMaxMaintenanceFileBytes = 4096;

struct MaintenanceWindow {
  double start = 0;  // Unix seconds
  double end = 0;
  std::string reason;
  bool active(double now) const { return start <= now && now < end; }
};

// nullopt with `error` set for anything but a well-formed window.
std::optional<MaintenanceWindow> parse_maintenance_window(std::string_view text, std::string& error);
std::string serialize_maintenance_window(const MaintenanceWindow& window);

// The reason as terminals, the status page and the log show it: at most
// kMaxMaintenanceReason bytes, control bytes as spaces.
std::string printable_reason(std::string_view reason);

}  // namespace assets
