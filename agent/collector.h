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
#include "agent/worker_pool.h"

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
  WorkerPool* pool = nullptr;

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

struct CollectorSpec {
  std::unique_ptr<Collector> collector;
  Duration interval;
  Duration timeout;
};

// Returns nullopt when the config does not enable this collector.
using CollectorFactory = std::optional<CollectorSpec> (*)(const Config&);

// Whether two configurations give the collector the same settings; a reload then keeps it
// running as it is.
using SectionComparator = bool (*)(const Config& before, const Config& after);

struct RegistryEntry {
  std::string_view name;
  CollectorFactory make;
  SectionComparator unchanged;
};

std::span<const RegistryEntry> collector_registry();

}  // namespace assets
