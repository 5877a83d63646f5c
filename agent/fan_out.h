#pragma once
// How a collector works on many targets at once, and when each target is due. Every
// collector uses these two, so concurrency and target schedules follow one rule.
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stop_token>

#include "agent/units.h"

namespace assets {

// Calls task(i) for every i in [0, count) on at most `parallel` threads, the calling
// thread being one of them, and returns when every call has returned. Tasks bound their
// own blocking calls by the run's deadline and stop token; those not yet begun when
// `stop` is requested are skipped, so a stopping run ends as soon as the running ones do.
void fan_out(std::size_t count, std::size_t parallel, std::stop_token stop,
             const std::function<void(std::size_t)>& task);

// When one target of a collector runs next. The driver runs a collector at the shortest
// interval of its targets (the tick); a target whose own interval is longer is due once
// less than half a tick is left before its time, so the driver's start jitter and a run's
// length never push a target to the tick after.
class DueTime {
 public:
  using Clock = std::chrono::steady_clock;

  bool due(Clock::time_point now, Duration tick) const { return !next_ || *next_ - now < tick / 2; }
  void ran(Clock::time_point started, Duration interval) { next_ = started + interval; }

 private:
  std::optional<Clock::time_point> next_;  // empty: due at the first run
};

}  // namespace assets
