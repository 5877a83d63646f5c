#pragma once
// How a collector works on many targets at once, and when each target is due. Every
// collector uses these two, so concurrency and target schedules follow one rule.
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <thread>

#include "agent/units.h"

namespace assets {

// Calls task(i) for every i in [0, count) on at most `parallel` threads, the calling
// thread being one of them, and returns when every call has returned. Tasks bound their
// own blocking calls by the run's deadline and stop token; those not yet begun when
// `stop` is requested are skipped, so a stopping run ends as soon as the running ones do.
// A task's exception does not stop the others; the first one is rethrown here, after all
// have returned (so a collector's run fails as it would have on one thread).
void fan_out(std::size_t count, std::size_t parallel, std::stop_token stop,
             const std::function<void(std::size_t)>& task);

// fan_out on a thread of its own, while the caller does other work (health drives its
// HTTP checks, certificates reads its files). join() waits and rethrows what fan_out threw;
// the destructor only waits.
class BackgroundFanOut {
 public:
  BackgroundFanOut(std::size_t count, std::size_t parallel, std::stop_token stop,
                   std::function<void(std::size_t)> task);
  BackgroundFanOut(const BackgroundFanOut&) = delete;
  BackgroundFanOut& operator=(const BackgroundFanOut&) = delete;
  void join();

 private:
  std::function<void(std::size_t)> task_;
  std::exception_ptr failure_;
  std::jthread thread_;
};

// When one target of a collector runs next. The driver runs a collector at the shortest
// interval of its targets (the tick); a target with a longer interval of its own runs at
// the first tick on or after its due time. A tenth of a tick of slack absorbs the driver's
// start jitter, so a target due at a tick is not put off to the next one; a 14 s target
// beside a 10 s one runs every 20 s, never every 10 s.
class DueTime {
 public:
  using Clock = std::chrono::steady_clock;

  bool due(Clock::time_point now, Duration tick) const { return !next_ || *next_ - now < tick / 10; }
  void ran(Clock::time_point started, Duration interval) { next_ = started + interval; }

 private:
  std::optional<Clock::time_point> next_;  // empty: due at the first run
};

}  // namespace assets
