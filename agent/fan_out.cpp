#include "agent/fan_out.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <utility>
#include <thread>
#include <vector>

namespace assets {

void fan_out(std::size_t count, std::size_t parallel, std::stop_token stop,
             const std::function<void(std::size_t)>& task) {
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;  // the first task's exception, thrown on the caller's thread
  const auto work = [&] {
    for (std::size_t i = next++; i < count && !stop.stop_requested(); i = next++) {
      try {
        task(i);
      } catch (...) {
        const std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  const std::size_t threads = std::min(count, std::max<std::size_t>(parallel, 1));
  {
    std::vector<std::jthread> helpers;
    helpers.reserve(threads > 0 ? threads - 1 : 0);
    for (std::size_t i = 1; i < threads; ++i) {
      try {
        helpers.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // no thread to be had: the ones there are do the work
      }
    }
    if (threads > 0) work();
  }  // the helpers join here
  if (failure) std::rethrow_exception(failure);
}

BackgroundFanOut::BackgroundFanOut(std::size_t count, std::size_t parallel, std::stop_token stop,
                                   std::function<void(std::size_t)> task)
    : task_(std::move(task)), thread_([this, count, parallel, stop] {
        try {
          fan_out(count, parallel, stop, task_);
        } catch (...) {
          failure_ = std::current_exception();  // read by join(), after the thread ended
        }
      }) {}

void BackgroundFanOut::join() {
  if (thread_.joinable()) thread_.join();
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

}  // namespace assets
