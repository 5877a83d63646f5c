#pragma once
// What every collector implements, and the registry table that lists them.
// A collector only gathers data: the driver (scheduler.cpp) times each run, turns an
// exception into assets_collector_success 0, and stores the result.
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "agent/config.h"

namespace YAML {
class Node;
}

namespace assets {

// One checked thing (a health check, a container, a backup set, a certificate target),
// for the status page and `assets-agent check`.
struct TargetStatus {
  std::string name;
  std::string kind;
  bool up = false;
  std::string reason;  // bounded reason label value; empty when up
  std::string detail;  // human-readable error for logs and the status page; never a secret
  double duration_seconds = 0;
};

struct CollectResult {
  std::vector<prometheus::MetricFamily> families;
  std::vector<TargetStatus> targets;
};

struct CollectContext {
  std::chrono::steady_clock::time_point deadline;
  std::stop_token stop;

  std::chrono::milliseconds remaining() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  }
};

// The lock lives here so implementations may keep caches between runs without one.
class Collector {
 public:
  virtual ~Collector() = default;
  CollectResult run(const CollectContext& context) {
    std::lock_guard lock(mutex_);
    return collect(context);
  }
  // Called before the first run when a reload replaces `previous` (whose driver has ended)
  // with this collector: caches that stay valid under the new settings move over, so a
  // reload does not redo expensive work.
  virtual void take_over(Collector& previous) { (void)previous; }

 protected:
  // Throws on a failure of the whole collector; failing targets are results, not exceptions.
  virtual CollectResult collect(const CollectContext& context) = 0;

 private:
  std::mutex mutex_;
};

class ConfigReader;

// What a collector's decode gets: its section's node, the reader that records errors with
// their positions, and the global section its defaults come from.
struct SectionInput {
  ConfigReader& reader;
  const YAML::Node& node;
  const GlobalConfig& global;
};

// One row of the registry (collectors/registry.cpp): everything the core knows of a collector.
struct CollectorKind {
  std::string_view name;  // its key in the configuration and its `collector` label
  // Validates the section and keeps its compiled form; nullptr when the section, as written,
  // enables nothing (an empty list, `enabled: false`). Errors go to the reader.
  std::shared_ptr<const CollectorSection> (*decode)(const SectionInput& input);
  std::unique_ptr<Collector> (*make)(const CollectorSection& section);
  // Whether two sections from `decode` give the same settings: a reload then keeps the
  // collector running, with its caches.
  bool (*same_settings)(const CollectorSection& before, const CollectorSection& after);
};

// A registry row for a collector whose section type is Section (with an operator==): its
// decode makes a Section and its factory takes one, so the casts below hold by construction.
template <typename Section, std::shared_ptr<const Section> (*Decode)(const SectionInput&),
          std::unique_ptr<Collector> (*Make)(const Section&)>
constexpr CollectorKind collector_kind(std::string_view name) {
  return CollectorKind{
      name, [](const SectionInput& input) -> std::shared_ptr<const CollectorSection> { return Decode(input); },
      [](const CollectorSection& section) { return Make(static_cast<const Section&>(section)); },
      [](const CollectorSection& before, const CollectorSection& after) {
        return static_cast<const Section&>(before) == static_cast<const Section&>(after);
      }};
}

}  // namespace assets
