#pragma once
// The one network layer of the collectors that open sockets themselves (health's tcp and
// postgres checks, the certificates probe): name resolution and connecting, both bounded
// by a deadline and ended promptly by a stop request, and SIGPIPE kept away from the
// agent. Failures come back as a kind each collector maps onto its own reason labels.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "agent/host_port.h"

namespace assets::net {

using Clock = std::chrono::steady_clock;

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

enum class FailureKind {
  stopped,  // a stop was requested
  timeout,  // the deadline passed
  dns,      // the name has no usable address
  connect,  // connect() failed; connect_errno says how
  other,    // no socket, or no thread for the lookup
};

struct Failure {
  FailureKind kind = FailureKind::other;
  std::string detail;     // e.g. "connecting to [::1]:5432: Connection refused"
  int connect_errno = 0;  // kind connect: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...
};

struct Resolution {
  std::vector<Endpoint> endpoints;  // in getaddrinfo's order, at most 8; never empty on success
  std::optional<Failure> failure;
};

// getaddrinfo with a deadline. A name (not an IP literal) is looked up on a helper thread
// that is left to finish on its own when the deadline or a stop comes first: libc has no
// way to cancel a lookup.
Resolution resolve(const HostPort& target, Clock::time_point deadline, std::stop_token stop);

enum class WaitResult { ready, timeout, stopped };
// Waits until fd has one of `events` (POLLIN, POLLOUT), the deadline passes or a stop is
// requested. A poll error counts as ready: the next read or write reports it.
WaitResult wait_for(int fd, short events, Clock::time_point deadline, std::stop_token stop);

struct Connection {
  UniqueFd fd;  // non-blocking
  std::optional<Failure> failure;
};
// Resolves target, then tries each address in turn until one accepts: one that fails moves
// on to the next, the deadline or a stop ends the attempt. The failure is the last address's.
Connection connect_to(const HostPort& target, Clock::time_point deadline, std::stop_token stop);

bool is_ip_literal(const std::string& host);

// Writing to a socket the peer closed raises SIGPIPE, which would end the agent, and
// OpenSSL writes with plain write(). This blocks SIGPIPE in the calling thread for the
// guard's lifetime and discards one raised meanwhile, as libpq and libcurl do.
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

}  // namespace assets::net
