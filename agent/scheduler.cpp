#include "agent/scheduler.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <random>
#include <thread>

#include "agent/log.h"

namespace assets {

// Logs a line when one of a collector's targets changes state: down (with its reason), up
// again. One place for every collector, so a container, a backup set and a certificate are
// logged as a health check is. A down target is logged on the first run too.
class TargetTransitions {
 public:
  void observe(const std::string& collector, const std::vector<TargetStatus>& targets) {
    std::map<std::string, std::string> reasons;
    for (const auto& target : targets) {
      const std::string reason = target.up ? "" : (target.reason.empty() ? "down" : target.reason);
      const auto before = reasons_.find(target.name);
      const bool known = before != reasons_.end();
      if (!reason.empty() && (!known || before->second != reason)) {
        log::warn("target down", {{"collector", collector}, {"target", target.name}, {"kind", target.kind},
                                  {"reason", reason}, {"detail", target.detail}});
      } else if (reason.empty() && known && !before->second.empty()) {
        log::info("target up again", {{"collector", collector}, {"target", target.name}, {"kind", target.kind}});
      }
      reasons.emplace(target.name, reason);
    }
    reasons_ = std::move(reasons);  // targets that went away are forgotten
  }

 private:
  std::map<std::string, std::string> reasons_;  // by target name: "" while up, else the reason
};

struct Scheduler::Driver {
  std::string name;
  std::shared_ptr<Collector> collector;
  Duration interval;
  Duration timeout;
  Duration start_jitter;
  std::shared_ptr<Store> store;
  std::stop_source stop;
  // When the current run started (steady clock, in its ticks), or 0 between runs.
  std::atomic<std::chrono::steady_clock::rep> run_started{0};
  // Held while the driver writes to the store, and while it is told to stop: after stop()
  // returns, a driver records nothing, even one that was abandoned mid-run.
  std::mutex mutex;
  std::condition_variable ended_changed;
  bool ended = false;

  void request_stop() {
    std::lock_guard lock(mutex);
    stop.request_stop();
  }
  bool wait_ended(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex);
    return ended_changed.wait_until(lock, deadline, [this] { return ended; });
  }
  bool has_ended() {
    std::lock_guard lock(mutex);
    return ended;
  }
};

Scheduler::Scheduler(std::shared_ptr<Store> store, Duration max_start_jitter)
    : store_(std::move(store)), max_start_jitter_(max_start_jitter) {}

Scheduler::~Scheduler() {
  request_stop();
  if (!wait_stopped(kDestructionBudget)) log::warn("collector runs did not end in time; abandoning them");
}

void Scheduler::start(ScheduledCollector collector) {
  auto driver = std::make_shared<Driver>();
  driver->name = std::move(collector.name);
  driver->collector = std::move(collector.collector);
  driver->interval = collector.interval;
  driver->timeout = collector.timeout;
  const auto jitter_limit = std::min(max_start_jitter_, driver->interval / 10);
  std::mt19937_64 random(std::random_device{}());
  driver->start_jitter =
      Duration(jitter_limit.count() > 0 ? std::uniform_int_distribution<Duration::rep>(0, jitter_limit.count())(random) : 0);
  driver->store = store_;
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  drivers_.push_back(driver);
  // Detached: the thread owns its driver, and nothing ever has to wait for it.
  std::thread([driver] { drive(driver); }).detach();
}

std::map<std::string, std::shared_ptr<Collector>> Scheduler::stop(const std::vector<std::string>& names,
                                                                  std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  std::vector<std::shared_ptr<Driver>> stopping;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(drivers_, [&](const std::shared_ptr<Driver>& driver) {
      if (std::find(names.begin(), names.end(), driver->name) == names.end()) return false;
      stopping.push_back(driver);
      return true;
    });
    retiring_.insert(retiring_.end(), stopping.begin(), stopping.end());
  }
  for (const auto& driver : stopping) driver->request_stop();
  std::map<std::string, std::shared_ptr<Collector>> ended;
  for (const auto& driver : stopping) {
    if (driver->wait_ended(deadline)) {
      ended.emplace(driver->name, driver->collector);
    } else {
      log::warn("collector run did not end in time; abandoning it",
                {{"collector", driver->name}, {"budget", format_duration(budget)}});
    }
  }
  std::lock_guard lock(mutex_);
  std::erase_if(retiring_, [](const std::shared_ptr<Driver>& driver) { return driver->has_ended(); });
  return ended;
}

std::vector<std::string> Scheduler::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& driver : drivers_) names.push_back(driver->name);
  return names;
}

void Scheduler::request_stop() {
  std::vector<std::shared_ptr<Driver>> drivers;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drivers = drivers_;
  }
  // Outside the lock: a driver busy recording holds its own mutex a moment.
  for (const auto& driver : drivers) driver->request_stop();
}

bool Scheduler::wait_stopped(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::shared_ptr<Driver>> drivers;
  {
    std::lock_guard lock(mutex_);
    drivers = drivers_;
    drivers.insert(drivers.end(), retiring_.begin(), retiring_.end());
  }
  bool all_ended = true;
  for (const auto& driver : drivers) all_ended = driver->wait_ended(deadline) && all_ended;
  return all_ended;
}

std::vector<std::string> Scheduler::stalled(Duration grace) const {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  // Abandoned drivers too: a reload that gave up on a stuck run leaves its thread stuck.
  std::vector<std::shared_ptr<Driver>> drivers = drivers_;
  drivers.insert(drivers.end(), retiring_.begin(), retiring_.end());
  for (const auto& driver : drivers) {
    const auto started = driver->run_started.load();
    if (started == 0) continue;
    const auto running_for = now - std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(started));
    if (running_for > driver->timeout + grace) names.push_back(driver->name);
  }
  return names;
}

CollectorRun Scheduler::run_once(Collector& collector, Duration timeout, std::stop_token stop) {
  CollectContext context;
  const auto started = std::chrono::steady_clock::now();
  context.deadline = started + timeout;
  context.stop = std::move(stop);
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
  run.timestamp_seconds = unix_time_now();
  if (run.success && elapsed > timeout) {
    // Results that arrive after the deadline are still kept; the overrun itself is the failure.
    run.success = false;
    run.error = "run took " + std::to_string(run.duration_seconds) + "s, longer than its timeout";
  }
  return run;
}

void Scheduler::drive(const std::shared_ptr<Driver>& driver) {
  const std::stop_token stop = driver->stop.get_token();
  auto next = std::chrono::steady_clock::now() + driver->start_jitter;
  TargetTransitions transitions;
  std::mutex sleep_mutex;
  std::condition_variable_any sleeper;  // woken only by the stop token
  for (;;) {
    {
      std::unique_lock lock(sleep_mutex);
      sleeper.wait_until(lock, stop, next, [] { return false; });
    }
    {
      std::lock_guard lock(driver->mutex);
      if (stop.stop_requested()) break;
      driver->store->run_started(driver->name, unix_time_now(), to_seconds(driver->timeout));
    }
    const auto started = std::chrono::steady_clock::now();
    driver->run_started = started.time_since_epoch().count();
    CollectorRun run = run_once(*driver->collector, driver->timeout, stop);
    driver->run_started = 0;
    if (stop.stop_requested()) break;
    if (!run.success) {
      log::warn("collector run failed", {{"collector", driver->name}, {"error", run.error}});
    } else {
      log::debug("collector run finished",
                 {{"collector", driver->name}, {"duration_seconds", std::to_string(run.duration_seconds)}});
    }
    if (run.success || !run.result.targets.empty()) transitions.observe(driver->name, run.result.targets);
    RenderedRun rendered = Store::render(std::move(run));  // the costly part, outside every lock
    {
      std::lock_guard lock(driver->mutex);
      if (stop.stop_requested()) break;
      driver->store->record(driver->name, std::move(rendered));
    }
    // Keep the cadence of the interval; skip slots that a long run overlapped.
    next = started + driver->interval;
    const auto now = std::chrono::steady_clock::now();
    while (next <= now) next += driver->interval;
  }
  {
    std::lock_guard lock(driver->mutex);
    driver->ended = true;
  }
  driver->ended_changed.notify_all();
}

}  // namespace assets
