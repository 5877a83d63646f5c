#pragma once
// Builds the metric families a collector returns. Collectors only describe values;
// the store serialises them once per snapshot.
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace assets {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Longest label value the agent emits; longer source values are cut (with "...").
inline constexpr std::size_t kMaxLabelValueLength = 256;
std::string bounded_label_value(std::string_view value, std::size_t limit = kMaxLabelValueLength);

class GaugeFamily {
 public:
  GaugeFamily(std::string name, std::string help);
  GaugeFamily& add(const Labels& labels, double value);
  prometheus::MetricFamily& family() { return family_; }

 private:
  prometheus::MetricFamily family_;
};

class MetricsBuilder {
 public:
  // Returns the family of that name, creating it on first use. References stay valid.
  GaugeFamily& gauge(std::string_view name, std::string_view help);
  // Moves the families out; families with no samples are dropped.
  std::vector<prometheus::MetricFamily> take();

 private:
  std::deque<GaugeFamily> families_;
};

}  // namespace assets
