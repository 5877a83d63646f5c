#pragma once
// Collectors for testing the driver, store and agent: they return a fixed metric, hang,
// or throw, as the test asks.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "agent/collector.h"
#include "agent/metrics.h"

namespace assets::testing {

struct FakeBehaviour {
  std::atomic<int> runs{0};
  std::atomic<bool> hang{false};   // block until released or stopped
  std::atomic<bool> ignore_stop{false};  // with hang: block until released, deaf to stop
  std::atomic<int> constructed{0};
  std::atomic<bool> fail{false};   // throw
  std::mutex mutex;
  std::condition_variable_any release;
};

class FakeCollector : public Collector {
 public:
  FakeCollector(std::string metric, FakeBehaviour& behaviour) : metric_(std::move(metric)), behaviour_(behaviour) {
    ++behaviour_.constructed;
  }

 protected:
  CollectResult collect(const CollectContext& context) override {
    const int run = ++behaviour_.runs;
    if (behaviour_.hang) {
      // Ignores the deadline on purpose: it stands for a target stuck in a blocking call.
      std::unique_lock lock(behaviour_.mutex);
      if (behaviour_.ignore_stop) {
        behaviour_.release.wait(lock, [this] { return !behaviour_.hang; });
      } else {
        behaviour_.release.wait(lock, context.stop, [this] { return !behaviour_.hang; });
      }
    }
    if (behaviour_.fail) throw std::runtime_error("fake failure");
    MetricsBuilder builder;
    builder.gauge(metric_, "A test metric.").add({{"run", "x"}}, run);
    CollectResult result;
    result.families = builder.take();
    result.targets.push_back(TargetStatus{metric_, "fake", true, "", "", 0.001});
    return result;
  }

 private:
  std::string metric_;
  FakeBehaviour& behaviour_;
};

}  // namespace assets::testing
