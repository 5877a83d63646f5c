#pragma once
// The containers collector's section: where the engine is and which containers count.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/collector.h"
#include "agent/regex.h"
#include "collectors/net/tls_config.h"

namespace assets {

struct ContainersConfig : CollectorSection {
  std::string socket = "/var/run/docker.sock";
  std::string host;  // tcp://host:port; empty: use socket
  std::optional<TlsConfig> tls;
  std::vector<Regex> include;  // container names, matched whole
  std::vector<Regex> exclude;
  std::map<std::string, std::string> include_labels;  // label = value (all must match)
  std::map<std::string, std::string> exclude_labels;
  std::vector<std::string> expected_services;
  int max_containers = 500;
  int max_parallel_inspects = 4;
  Duration resync_interval = std::chrono::minutes(5);
  bool operator==(const ContainersConfig&) const = default;
};

// `containers:` alone enables the defaults; nullptr with `enabled: false`.
std::shared_ptr<const ContainersConfig> decode_containers_section(const SectionInput& input);

}  // namespace assets
