#pragma once
// What the agent tells systemd (sd_notify): ready once it listens and its collectors are
// scheduled, reloading around each reload, stopping, a status line, and the watchdog's
// ping. Each call is a no-op when the process was not started by systemd with
// Type=notify (no NOTIFY_SOCKET), so the daemon calls them unconditionally.
#include <chrono>
#include <optional>
#include <string_view>

namespace assets::service_manager {

void ready(std::string_view status);
// RELOADING=1 with the monotonic time systemd (253+) asks for; READY=1 ends it.
void reloading();
void stopping();
void status(std::string_view status);
void watchdog_ping();
// How often the main loop must ping: half of WatchdogSec=, or none without a watchdog.
std::optional<std::chrono::microseconds> watchdog_ping_interval();

}  // namespace assets::service_manager
