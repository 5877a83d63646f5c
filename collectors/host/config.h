#pragma once
// The host collector's section: where the root-run helper (deploy/host-facts) writes the
// host's protections, and the policies the alerts apply to them.
#include <memory>
#include <string>

#include "agent/collector.h"

namespace assets {

inline constexpr const char* kDefaultHostFactsFile = "/var/lib/assets-agent-host-facts/facts.json";

struct HostConfig : CollectorSection {
  std::string facts_file = kDefaultHostFactsFile;
  // The helper's timer runs every 15 minutes: an hour is four missed runs.
  Duration stale_after = std::chrono::hours(1);
  // Debian's security updates are meant to go in within days; a week is the alert's line.
  Duration security_updates_max_pending = 7 * std::chrono::hours(24);
  bool operator==(const HostConfig&) const = default;
};

// `host:` alone enables the defaults; nullptr with `enabled: false` or without the key.
std::shared_ptr<const HostConfig> decode_host_section(const SectionInput& input);

}  // namespace assets
