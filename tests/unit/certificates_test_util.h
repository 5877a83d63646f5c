#pragma once
// Shared by the certificates collector's tests: build the collector from YAML, run it
// once, and look samples up by name and labels.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/collector.h"
#include "agent/config.h"
#include "agent/metrics.h"
#include "collectors/certificates/certificates.h"
#include "tests/support/configured_collector.h"

namespace assets::testing {

class CertificatesRun {
 public:
  explicit CertificatesRun(const std::string& yaml) {
    auto collector = configured_collector("certificates", yaml);
    if (!collector) throw std::runtime_error("the certificates collector is not enabled by the test config");
    spec_ = std::move(*collector);
  }

  // One run with the collector's own timeout as its deadline; remembers the result.
  const CollectResult& run(std::stop_token stop = {}) {
    CollectContext context;
    context.deadline = std::chrono::steady_clock::now() + spec_.timeout;
    context.stop = std::move(stop);
    const auto start = std::chrono::steady_clock::now();
    result_ = spec_.collector->run(context);
    last_duration_ = std::chrono::steady_clock::now() - start;
    return result_;
  }

  const ScheduledCollector& spec() const { return spec_; }
  const CollectResult& result() const { return result_; }
  std::chrono::duration<double> last_duration() const { return last_duration_; }

  // Samples of `name` whose labels include every pair of `subset`.
  std::vector<const prometheus::ClientMetric*> samples(const std::string& name, const Labels& subset = {}) const {
    std::vector<const prometheus::ClientMetric*> found;
    for (const auto& family : result_.families) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        bool all = true;
        for (const auto& [label, value] : subset) {
          bool has = false;
          for (const auto& pair : metric.label) has = has || (pair.name == label && pair.value == value);
          all = all && has;
        }
        if (all) found.push_back(&metric);
      }
    }
    return found;
  }

  // The value of the one matching sample; nullopt when none matches, a test failure when several do.
  std::optional<double> value(const std::string& name, const Labels& subset) const {
    const auto found = samples(name, subset);
    if (found.empty()) return std::nullopt;
    EXPECT_EQ(found.size(), 1u) << name << " matched more than one sample";
    return found.front()->gauge.value;
  }

  static std::string label(const prometheus::ClientMetric& metric, const std::string& name) {
    for (const auto& pair : metric.label) {
      if (pair.name == name) return pair.value;
    }
    return "<absent>";
  }

  const TargetStatus* target(const std::string& name) const {
    for (const auto& target : result_.targets) {
      if (target.name == name) return &target;
    }
    return nullptr;
  }

 private:
  ScheduledCollector spec_;
  CollectResult result_;
  std::chrono::duration<double> last_duration_{};
};

}  // namespace assets::testing
