#include "agent/fan_out.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace assets {

void fan_out(std::size_t count, std::size_t parallel, std::stop_token stop,
             const std::function<void(std::size_t)>& task) {
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < count && !stop.stop_requested(); i = next++) task(i);
  };
  const std::size_t threads = std::min(count, std::max<std::size_t>(parallel, 1));
  std::vector<std::jthread> helpers;
  helpers.reserve(threads > 0 ? threads - 1 : 0);
  for (std::size_t i = 1; i < threads; ++i) helpers.emplace_back(work);
  if (threads > 0) work();
}  // the helpers join here

}  // namespace assets
