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
  std::atomic<int> returned{0};  // runs that have left collect(): after it, a run touches this no more
  std::mutex mutex;
  std::condition_variable_any release;

  // Ends every hang; under the mutex, so no waiting run misses it.
  void release_all() {
    {
      std::lock_guard lock(mutex);
      hang = false;
    }
    release.notify_all();
  }
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
    if (behaviour_.fail) {
      ++behaviour_.returned;
      throw std::runtime_error("fake failure");
    }
    MetricsBuilder builder;
    builder.gauge(metric_, "A test metric.").add({{"run", "x"}}, run);
    CollectResult result;
    result.families = builder.take();
    result.targets.push_back(TargetStatus{metric_, "fake", true, "", "", 0.001});
    ++behaviour_.returned;
    return result;
  }

 private:
  std::string metric_;
  FakeBehaviour& behaviour_;
};

}  // namespace assets::testing
