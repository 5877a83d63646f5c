#include "agent/worker_pool.h"

#include <latch>

namespace assets {

WorkerPool::WorkerPool(std::size_t threads) {
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void WorkerPool::run_all(std::vector<std::function<void()>> tasks) {
  if (tasks.empty()) return;
  std::latch done(static_cast<std::ptrdiff_t>(tasks.size()));
  {
    std::lock_guard lock(mutex_);
    for (auto& task : tasks) {
      queue_.emplace_back([&done, task = std::move(task)] {
        try {
          task();
        } catch (...) {
          // A task reports its own failures through its result; this keeps the latch honest.
        }
        done.count_down();
      });
    }
  }
  wake_.notify_all();
  done.wait();
}

void WorkerPool::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace assets
