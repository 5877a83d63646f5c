#pragma once
// Reading a collector's result in tests: a family by name, a sample by a subset of labels.
#include <map>
#include <optional>
#include <string>

#include "agent/collector.h"

namespace assets::testing {

using LabelSet = std::map<std::string, std::string>;

inline const prometheus::MetricFamily* find_family(const CollectResult& result, const std::string& name) {
  for (const auto& family : result.families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// The value of the first sample of `name` whose labels include `labels`; nullopt if none.
inline std::optional<double> sample_value(const CollectResult& result, const std::string& name,
                                          const LabelSet& labels = {}) {
  const auto* family = find_family(result, name);
  if (family == nullptr) return std::nullopt;
  for (const auto& metric : family->metric) {
    std::size_t matched = 0;
    for (const auto& label : metric.label) {
      const auto it = labels.find(label.name);
      if (it != labels.end() && it->second == label.value) ++matched;
    }
    if (matched == labels.size()) return metric.gauge.value;
  }
  return std::nullopt;
}

inline std::size_t sample_count(const CollectResult& result, const std::string& name) {
  const auto* family = find_family(result, name);
  return family == nullptr ? 0 : family->metric.size();
}

}  // namespace assets::testing
