#include "agent/metrics.h"

#include "agent/utf8.h"

namespace assets {

std::string bounded_label_value(std::string_view value, std::size_t limit) {
  if (value.size() <= limit) return std::string(value);
  std::size_t cut = limit > 3 ? limit - 3 : 0;
  // Do not split a UTF-8 sequence: back up to a lead byte.
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return std::string(value.substr(0, cut)) + "...";
}

GaugeFamily::GaugeFamily(std::string name, std::string help) {
  family_.name = std::move(name);
  family_.help = std::move(help);
  family_.type = prometheus::MetricType::Gauge;
}

GaugeFamily& GaugeFamily::add(const Labels& labels, double value) {
  prometheus::ClientMetric metric;
  metric.label.reserve(labels.size());
  // One label value that is not UTF-8 would make Prometheus reject the whole scrape.
  for (const auto& [name, label_value] : labels) metric.label.push_back({name, valid_utf8(label_value)});
  metric.gauge.value = value;
  family_.metric.push_back(std::move(metric));
  return *this;
}

GaugeFamily& MetricsBuilder::gauge(std::string_view name, std::string_view help) {
  for (auto& family : families_) {
    if (family.family().name == name) return family;
  }
  return families_.emplace_back(std::string(name), std::string(help));
}

std::vector<prometheus::MetricFamily> MetricsBuilder::take() {
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families_.size());
  for (auto& family : families_) {
    if (!family.family().metric.empty()) out.push_back(std::move(family.family()));
  }
  families_.clear();
  return out;
}

}  // namespace assets
