#include "agent/scheduler.h"

#include <algorithm>
#include <random>

#include "agent/log.h"

namespace assets {
namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Scheduler::Scheduler(std::vector<ScheduledCollector> collectors, Store& store, std::size_t pool_threads,
                     Duration max_start_jitter)
    : store_(store), collectors_(std::move(collectors)), max_start_jitter_(max_start_jitter), pool_(pool_threads) {
  running_ = collectors_.size();
  for (std::size_t i = 0; i < collectors_.size(); ++i) {
    threads_.emplace_back([this, i](std::stop_token stop) { drive(stop, i); });
  }
}

Scheduler::~Scheduler() {
  request_stop();
  threads_.clear();  // joins
}

void Scheduler::request_stop() {
  // The drivers sleep on their stop tokens, which wake them.
  for (auto& thread : threads_) thread.request_stop();
}

bool Scheduler::wait_stopped(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return stopped_.wait_for(lock, timeout, [this] { return running_ == 0; });
}

CollectorRun Scheduler::run_once(Collector& collector, Duration timeout, WorkerPool& pool, std::stop_token stop) {
  CollectContext context;
  const auto started = std::chrono::steady_clock::now();
  context.deadline = started + timeout;
  context.stop = std::move(stop);
  context.pool = &pool;
  CollectorRun run;
  try {
    run.result = collector.run(context);
    run.success = true;
  } catch (const std::exception& e) {
    run.error = e.what();
  } catch (...) {
    run.error = "unknown exception";
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  run.duration_seconds = std::chrono::duration<double>(elapsed).count();
  run.timestamp_seconds = unix_now();
  if (run.success && elapsed > timeout) {
    // Results that arrive after the deadline are still kept; the overrun itself is the failure.
    run.success = false;
    run.error = "run took " + std::to_string(run.duration_seconds) + "s, longer than its timeout";
  }
  return run;
}

void Scheduler::drive(std::stop_token stop, std::size_t index) {
  const ScheduledCollector& entry = collectors_[index];
  std::mt19937_64 random(std::random_device{}());
  const auto jitter_limit = std::min(max_start_jitter_, entry.spec.interval / 10);
  const auto jitter =
      Duration(jitter_limit.count() > 0 ? std::uniform_int_distribution<Duration::rep>(0, jitter_limit.count())(random) : 0);
  auto next = std::chrono::steady_clock::now() + jitter;
  std::mutex sleep_mutex;
  std::condition_variable_any sleeper;  // woken only by the stop token
  for (;;) {
    {
      std::unique_lock lock(sleep_mutex);
      sleeper.wait_until(lock, stop, next, [] { return false; });
    }
    if (stop.stop_requested()) break;
    const auto started = std::chrono::steady_clock::now();
    CollectorRun run = run_once(*entry.spec.collector, entry.spec.timeout, pool_, stop);
    if (stop.stop_requested()) break;
    if (!run.success) {
      log::warn("collector run failed", {{"collector", entry.name}, {"error", run.error}});
    } else {
      log::debug("collector run finished",
                 {{"collector", entry.name}, {"duration_seconds", std::to_string(run.duration_seconds)}});
    }
    store_.record(entry.name, std::move(run));
    // Keep the cadence of the interval; skip slots that a long run overlapped.
    next = started + entry.spec.interval;
    const auto now = std::chrono::steady_clock::now();
    while (next <= now) next += entry.spec.interval;
  }
  std::lock_guard lock(mutex_);
  --running_;
  stopped_.notify_all();
}

}  // namespace assets
