#pragma once
// Socket helpers for the tcp and postgres checks: name resolution and connecting, both
// bounded by a deadline and interruptible by a stop request.
#include <signal.h>
#include <sys/socket.h>

#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "agent/host_port.h"
#include "collectors/health/check.h"

namespace assets::health {

using assets::HostPort;
using assets::split_host_port;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release();

 private:
  int fd_ = -1;
};

struct Endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;  // numeric address, for details and libpq's hostaddr
};

// A failure of a step: reason label and detail; `stopped` when a stop was requested.
struct StepError {
  std::string_view reason;
  std::string detail;
  bool stopped = false;
};

struct Resolution {
  std::vector<Endpoint> endpoints;
  std::optional<StepError> error;
};

// getaddrinfo with a deadline: the lookup runs on a helper thread that is left to finish on
// its own when the deadline passes first (libc has no way to cancel it).
// family: AF_UNSPEC, AF_INET or AF_INET6.
Resolution resolve(const std::string& host, const std::string& port, int family, Clock::time_point deadline,
                   std::stop_token stop);

enum class WaitResult { ready, timeout, stopped };
// Waits until fd has one of `events` (POLLIN/POLLOUT), the deadline passes or a stop is requested.
WaitResult wait_for(int fd, short events, Clock::time_point deadline, std::stop_token stop);

struct Connection {
  UniqueFd fd;
  std::optional<StepError> error;
};
// Tries each endpoint in turn with a non-blocking connect; the socket stays non-blocking.
Connection connect_any(const std::vector<Endpoint>& endpoints, Clock::time_point deadline, std::stop_token stop);

// Writing to a socket the peer closed raises SIGPIPE, and OpenSSL writes with plain write():
// this blocks SIGPIPE in the calling thread for the guard's lifetime and discards one
// raised meanwhile, as libpq and libcurl do.
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t previous_{};
  bool was_pending_ = false;
};

}  // namespace assets::health
