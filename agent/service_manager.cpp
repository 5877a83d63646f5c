#include "agent/service_manager.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace assets::service_manager {
namespace {

void notify(const std::string& state) {
  // Keeps NOTIFY_SOCKET in the environment: every later notification needs it.
  sd_notify(0, state.c_str());
}

std::string status_line(std::string_view status) { return "STATUS=" + std::string(status); }

}  // namespace

void ready(std::string_view status) { notify("READY=1\n" + status_line(status)); }

void reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000LL + now.tv_nsec / 1000;
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\n" + status_line("reloading the configuration"));
}

void stopping() { notify("STOPPING=1\n" + status_line("stopping")); }

void status(std::string_view text) { notify(status_line(text)); }

void watchdog_ping() { notify("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> watchdog_ping_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace assets::service_manager
