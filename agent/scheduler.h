#pragma once
// The collector driver: one thread per collector runs it on its interval, with a start
// jitter and a deadline, times it, turns exceptions and overruns into a failed run, and
// records the result in the Store. Targets within a collector share one WorkerPool.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/collector.h"
#include "agent/store.h"
#include "agent/worker_pool.h"

namespace assets {

struct ScheduledCollector {
  std::string name;
  CollectorSpec spec;
};

class Scheduler {
 public:
  Scheduler(std::vector<ScheduledCollector> collectors, Store& store, std::size_t pool_threads,
            Duration max_start_jitter = std::chrono::seconds(1));
  // Stops and joins; waits for runs in progress (each bounded by its own timeout).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void request_stop();
  // True when every driver thread has finished within `timeout`.
  bool wait_stopped(std::chrono::milliseconds timeout);

  // Runs one collector once, synchronously, as a driver run would (for `assets-agent check`).
  static CollectorRun run_once(Collector& collector, Duration timeout, WorkerPool& pool, std::stop_token stop = {});

 private:
  void drive(std::stop_token stop, std::size_t index);

  Store& store_;
  std::vector<ScheduledCollector> collectors_;
  Duration max_start_jitter_;
  WorkerPool pool_;
  std::mutex mutex_;
  std::condition_variable stopped_;
  std::size_t running_ = 0;
  std::vector<std::jthread> threads_;  // last: started after everything they use exists
};

}  // namespace assets
