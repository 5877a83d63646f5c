#pragma once
// The collector driver: one thread per collector runs it on its interval, with a start
// jitter and a deadline, times it, turns exceptions and overruns into a failed run, and
// records the result in the Store.
//
// A driver's thread co-owns everything it touches (its collector and the store), so
// a driver whose collector is stuck in a blocking call can be abandoned: reload and
// shutdown never wait for it longer than their budget. An abandoned thread ends by itself
// when its run returns, and records nothing.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "agent/collector.h"
#include "agent/store.h"

namespace assets {

// A collector built from its section, with the schedule the section gives it.
struct ScheduledCollector {
  std::string name;
  std::unique_ptr<Collector> collector;
  Duration interval;
  Duration timeout;
};

class Scheduler {
 public:
  explicit Scheduler(std::shared_ptr<Store> store, Duration max_start_jitter = std::chrono::seconds(1));
  // Stops every driver, waiting for them at most kDestructionBudget.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts a driver. Ignored once request_stop() was called.
  void start(ScheduledCollector collector);
  // Stops the named drivers, waiting `budget` for all of them together. Returns the
  // collectors of the drivers that ended (their caches may be handed to successors); the
  // others are abandoned, and wait_stopped() still counts them until they end.
  std::map<std::string, std::shared_ptr<Collector>> stop(const std::vector<std::string>& names,
                                                         std::chrono::milliseconds budget);
  std::vector<std::string> names() const;

  // Asks every driver to stop, and refuses new ones.
  void request_stop();
  // True when every driver's thread, abandoned ones included, has ended within `timeout`.
  bool wait_stopped(std::chrono::milliseconds timeout);

  // The collectors whose current run has lasted longer than their timeout plus `grace`:
  // stuck in a call that ignores its deadline, abandoned ones included. The watchdog stops
  // pinging while any is.
  std::vector<std::string> stalled(Duration grace) const;

  // Runs one collector once, synchronously, as a driver run would (for `assets-agent check`).
  static CollectorRun run_once(Collector& collector, Duration timeout, std::stop_token stop = {});

  static constexpr std::chrono::milliseconds kDestructionBudget{1000};

 private:
  struct Driver;
  static void drive(const std::shared_ptr<Driver>& driver);

  std::shared_ptr<Store> store_;
  Duration max_start_jitter_;
  mutable std::mutex mutex_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Driver>> drivers_;
  std::vector<std::shared_ptr<Driver>> retiring_;  // told to stop, not seen ending yet
};

}  // namespace assets
