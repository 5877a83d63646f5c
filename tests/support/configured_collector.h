#pragma once
// The collector a configuration text enables, built the way the agent builds it: the text
// through parse_config and the registry, the collector from its own section.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "agent/agent.h"
#include "agent/collector.h"

namespace assets::testing {

// nullopt when the text does not enable the collector; throws when the text is rejected.
inline std::optional<ScheduledCollector> configured_collector(std::string_view name, const std::string& yaml) {
  ConfigResult parsed = parse_config(yaml, "test.yml");
  if (!parsed.config) {
    std::string errors;
    for (const auto& error : parsed.errors) errors += error.to_string() + "\n";
    throw std::runtime_error("test config rejected:\n" + errors + yaml);
  }
  for (ScheduledCollector& collector : build_collectors(collector_registry(), *parsed.config)) {
    if (collector.name == name) return std::move(collector);
  }
  return std::nullopt;
}

}  // namespace assets::testing
