#include "collectors/net/socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace assets::net {
namespace {

// How often waits wake up to notice a stop request.
constexpr auto kWaitSlice = std::chrono::milliseconds(100);
// Enough addresses for dual-stack hosts; more only slow a failing check down.
constexpr std::size_t kMaxEndpoints = 8;

// std::strerror may share its buffer between threads; this does not.
std::string errno_text(int error) { return std::generic_category().message(error); }

std::string numeric_address(const sockaddr* address, socklen_t length) {
  std::array<char, NI_MAXHOST> text{};
  if (getnameinfo(address, length, text.data(), text.size(), nullptr, 0, NI_NUMERICHOST) != 0) return "?";
  return text.data();
}

std::vector<Endpoint> endpoints_of(const addrinfo* list) {
  std::vector<Endpoint> endpoints;
  for (const addrinfo* entry = list; entry != nullptr && endpoints.size() < kMaxEndpoints; entry = entry->ai_next) {
    if (entry->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Endpoint endpoint;
    std::memcpy(&endpoint.address, entry->ai_addr, entry->ai_addrlen);
    endpoint.length = entry->ai_addrlen;
    endpoint.text = numeric_address(entry->ai_addr, entry->ai_addrlen);
    endpoints.push_back(std::move(endpoint));
  }
  return endpoints;
}

addrinfo hints_for(int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  return hints;
}

// Shared between resolve() and its helper thread, which may outlive the call.
struct Lookup {
  std::mutex mutex;
  std::condition_variable done_signal;
  bool done = false;
  std::string error;  // why the lookup failed; empty when it succeeded
  std::vector<Endpoint> endpoints;
};

// Runs on the helper thread: errno after EAI_SYSTEM is this thread's.
void look_up(Lookup& lookup, const HostPort& target) {
  const addrinfo hints = hints_for(AI_ADDRCONFIG | AI_NUMERICSERV);
  addrinfo* found = nullptr;
  const int status = getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found);
  const std::string error = status == 0 ? "" : status == EAI_SYSTEM ? errno_text(errno) : gai_strerror(status);
  std::vector<Endpoint> endpoints = status == 0 ? endpoints_of(found) : std::vector<Endpoint>{};
  if (found != nullptr) freeaddrinfo(found);
  std::lock_guard lock(lookup.mutex);
  lookup.error = error;
  lookup.endpoints = std::move(endpoints);
  lookup.done = true;
  lookup.done_signal.notify_all();
}

std::string port_text(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) return std::to_string(ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port));
  if (address.ss_family == AF_INET6) {
    return std::to_string(ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port));
  }
  return "?";
}

std::string describe(const Endpoint& endpoint) {
  const bool v6 = endpoint.address.ss_family == AF_INET6;
  return (v6 ? "[" + endpoint.text + "]" : endpoint.text) + ":" + port_text(endpoint.address);
}

Connection connect_any(const std::vector<Endpoint>& endpoints, Clock::time_point deadline, std::stop_token stop) {
  Connection connection;
  connection.failure = Failure{FailureKind::other, "no address to connect to"};
  for (const Endpoint& endpoint : endpoints) {
    UniqueFd fd(socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
      connection.failure = Failure{FailureKind::other, "socket: " + errno_text(errno)};
      continue;
    }
    const std::string connecting = "connecting to " + describe(endpoint);
    int error = 0;
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        switch (wait_for(fd.get(), POLLOUT, deadline, stop)) {
          case WaitResult::stopped:
            connection.failure = Failure{FailureKind::stopped, connecting + ": stopped"};
            return connection;
          case WaitResult::timeout:
            connection.failure = Failure{FailureKind::timeout, connecting + ": timed out"};
            return connection;
          case WaitResult::ready: {
            socklen_t length = sizeof error;
            if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
            break;
          }
        }
      }
    }
    if (error == 0) {
      connection.fd = std::move(fd);
      connection.failure.reset();
      return connection;
    }
    connection.failure = Failure{FailureKind::connect, connecting + ": " + errno_text(error), error};
  }
  return connection;
}

}  // namespace

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

Resolution resolve(const HostPort& target, Clock::time_point deadline, std::stop_token stop) {
  Resolution resolution;
  const std::string resolving = "resolving " + target.host;
  // Numeric addresses need no lookup, and no thread.
  const addrinfo numeric_hints = hints_for(AI_NUMERICHOST | AI_NUMERICSERV);
  addrinfo* list = nullptr;
  if (getaddrinfo(target.host.c_str(), target.port.c_str(), &numeric_hints, &list) == 0) {
    resolution.endpoints = endpoints_of(list);
    freeaddrinfo(list);
    return resolution;
  }

  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, target] { look_up(*lookup, target); }).detach();
  } catch (const std::system_error& error) {
    resolution.failure = Failure{FailureKind::other, resolving + ": cannot start the lookup: " + error.what()};
    return resolution;
  }

  std::unique_lock lock(lookup->mutex);
  while (!lookup->done) {
    if (stop.stop_requested()) {
      resolution.failure = Failure{FailureKind::stopped, resolving + ": stopped"};
      return resolution;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      resolution.failure = Failure{FailureKind::timeout, resolving + ": no answer before the timeout"};
      return resolution;
    }
    lookup->done_signal.wait_until(lock, std::min(deadline, now + kWaitSlice));
  }
  if (!lookup->error.empty()) {
    resolution.failure = Failure{FailureKind::dns, resolving + ": " + lookup->error};
  } else if (lookup->endpoints.empty()) {
    resolution.failure = Failure{FailureKind::dns, resolving + ": no usable address"};
  } else {
    resolution.endpoints = std::move(lookup->endpoints);
  }
  return resolution;
}

WaitResult wait_for(int fd, short events, Clock::time_point deadline, std::stop_token stop) {
  while (true) {
    if (stop.stop_requested()) return WaitResult::stopped;
    const auto now = Clock::now();
    if (now >= deadline) return WaitResult::timeout;
    const auto slice = std::chrono::ceil<std::chrono::milliseconds>(std::min<Clock::duration>(deadline - now, kWaitSlice));
    pollfd entry{fd, events, 0};
    const int ready = poll(&entry, 1, static_cast<int>(slice.count()));
    if (ready > 0) return WaitResult::ready;
    if (ready < 0 && errno != EINTR) return WaitResult::ready;
  }
}

Connection connect_to(const HostPort& target, Clock::time_point deadline, std::stop_token stop) {
  Resolution resolution = resolve(target, deadline, stop);
  if (resolution.failure) return Connection{UniqueFd(), std::move(resolution.failure)};
  return connect_any(resolution.endpoints, deadline, std::move(stop));
}

bool is_ip_literal(const std::string& host) {
  std::array<unsigned char, sizeof(in6_addr)> address{};
  return inet_pton(AF_INET, host.c_str(), address.data()) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address.data()) == 1;
}

SigpipeGuard::SigpipeGuard() {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &previous_);
}

SigpipeGuard::~SigpipeGuard() {
  // A SIGPIPE that was pending before the guard is not this guard's to discard.
  if (!was_pending_) {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    const timespec no_wait{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &no_wait) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

}  // namespace assets::net
