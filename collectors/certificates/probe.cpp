#include "collectors/certificates/probe.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace assets {
namespace {

using Clock = std::chrono::steady_clock;

// Waits are cut into slices so a stop request is seen promptly.
constexpr std::chrono::milliseconds kWaitSlice{100};

struct Failure {
  CertFailure failure;
  std::string detail;
};

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

std::string openssl_error_text() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return {};
  char text[256] = {};
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

bool is_ip_literal(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 || inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

enum class Wait { ready, timeout, stopped };

Wait wait_for(int fd, short events, Clock::time_point deadline, const std::stop_token& stop) {
  while (true) {
    if (stop.stop_requested()) return Wait::stopped;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Wait::timeout;
    pollfd entry{fd, events, 0};
    const int ready = poll(&entry, 1, static_cast<int>(std::min(left, kWaitSlice).count()) + 1);
    if (ready > 0) return Wait::ready;
    if (ready < 0 && errno != EINTR) return Wait::ready;  // the next call on the socket reports the error
  }
}

Failure wait_failure(Wait wait, std::string_view phase) {
  if (wait == Wait::stopped) return {CertFailure::timeout, "stopped during " + std::string(phase)};
  return {CertFailure::timeout, "timed out during " + std::string(phase)};
}

struct Addresses {
  std::vector<sockaddr_storage> entries;
  std::vector<socklen_t> lengths;
};

// getaddrinfo has no timeout, so names are resolved on a thread of their own that may
// outlive the probe; the shared state keeps what it writes alive.
struct Resolution {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  int status = 0;
  addrinfo* result = nullptr;
  ~Resolution() {
    if (result != nullptr) freeaddrinfo(result);
  }
};

std::variant<Addresses, Failure> resolve(const HostPort& target, Clock::time_point deadline, const std::stop_token& stop) {
  auto state = std::make_shared<Resolution>();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  if (is_ip_literal(target.host)) {
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    state->status = getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &state->result);
    state->done = true;
  } else {
    try {
      std::thread([state, hints, target] {
        addrinfo* result = nullptr;
        const int status = getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &result);
        const std::lock_guard lock(state->mutex);
        state->status = status;
        state->result = result;
        state->done = true;
        state->finished.notify_all();
      }).detach();
    } catch (const std::system_error& error) {
      return Failure{CertFailure::other, std::string("cannot start name resolution: ") + error.what()};
    }
  }
  std::unique_lock lock(state->mutex);
  while (!state->done) {
    if (stop.stop_requested()) return Failure{CertFailure::timeout, "stopped during name resolution"};
    if (Clock::now() >= deadline) return Failure{CertFailure::timeout, "timed out during name resolution"};
    state->finished.wait_until(lock, std::min(deadline, Clock::now() + kWaitSlice));
  }
  if (state->status != 0) {
    const std::string why = state->status == EAI_SYSTEM ? errno_text(errno) : gai_strerror(state->status);
    return Failure{CertFailure::dns, "cannot resolve " + target.host + ": " + why};
  }
  Addresses addresses;
  for (const addrinfo* entry = state->result; entry != nullptr; entry = entry->ai_next) {
    if (entry->ai_addrlen > sizeof(sockaddr_storage)) continue;
    sockaddr_storage storage{};
    std::memcpy(&storage, entry->ai_addr, entry->ai_addrlen);
    addresses.entries.push_back(storage);
    addresses.lengths.push_back(entry->ai_addrlen);
  }
  if (addresses.entries.empty()) return Failure{CertFailure::dns, "no address for " + target.host};
  return addresses;
}

std::variant<Socket, Failure> connect_any(const Addresses& addresses, Clock::time_point deadline,
                                          const std::stop_token& stop) {
  Failure last{CertFailure::other, "no address to connect to"};
  for (std::size_t i = 0; i < addresses.entries.size(); ++i) {
    const auto& storage = addresses.entries[i];
    Socket socket_fd(socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (socket_fd.get() < 0) {
      last = {CertFailure::other, "socket: " + errno_text(errno)};
      continue;
    }
    int error = 0;
    if (connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&storage), addresses.lengths[i]) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        const Wait wait = wait_for(socket_fd.get(), POLLOUT, deadline, stop);
        if (wait != Wait::ready) return wait_failure(wait, "connect");
        socklen_t length = sizeof error;
        if (getsockopt(socket_fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      }
    }
    if (error == 0) return socket_fd;
    last = {error == ECONNREFUSED ? CertFailure::refused : CertFailure::other, "connect: " + errno_text(error)};
  }
  return last;
}

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

std::string handshake_error(SSL* ssl, int result) {
  const int error = SSL_get_error(ssl, result);
  const int saved_errno = errno;
  std::string library = openssl_error_text();
  if (!library.empty()) return library;
  if (error == SSL_ERROR_ZERO_RETURN) return "the peer closed the connection during the handshake";
  if (error == SSL_ERROR_SYSCALL) {
    return saved_errno == 0 ? "the peer closed the connection during the handshake" : errno_text(saved_errno);
  }
  return "handshake failed (SSL error " + std::to_string(error) + ")";
}

}  // namespace

void TlsClient::Free::operator()(SSL_CTX* context) const { SSL_CTX_free(context); }

TlsClient::TlsClient(const std::string& ca_file) : context_(SSL_CTX_new(TLS_client_method())) {
  if (!context_) {
    load_error_ = "cannot create a TLS context: " + openssl_error_text();
    return;
  }
  // The handshake must finish whatever the chain; verification is read afterwards.
  SSL_CTX_set_verify(context_.get(), SSL_VERIFY_NONE, nullptr);
  const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(context_.get())
                                     : SSL_CTX_load_verify_locations(context_.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    load_error_ = (ca_file.empty() ? std::string("cannot load the system trust store")
                                   : "cannot load ca_file " + ca_file) +
                  ": " + openssl_error_text();
  }
}

ProbeOutcome probe_tls_endpoint(const ProbeRequest& request, const TlsClient& client, std::stop_token stop) {
  ProbeOutcome outcome;
  const auto fail = [&outcome](Failure failure) {
    outcome.failure = failure.failure;
    outcome.detail = std::move(failure.detail);
    return outcome;
  };
  const auto target = split_host_port(request.address);
  if (!target) return fail({CertFailure::other, "address is not host:port"});
  if (client.context() == nullptr) return fail({CertFailure::other, client.load_error()});

  auto resolved = resolve(*target, request.deadline, stop);
  if (auto* failure = std::get_if<Failure>(&resolved)) return fail(std::move(*failure));
  auto connected = connect_any(std::get<Addresses>(resolved), request.deadline, stop);
  if (auto* failure = std::get_if<Failure>(&connected)) return fail(std::move(*failure));
  const Socket& socket_fd = std::get<Socket>(connected);

  ERR_clear_error();
  const std::unique_ptr<SSL, SslFree> ssl(SSL_new(client.context()));
  if (!ssl || SSL_set_fd(ssl.get(), socket_fd.get()) != 1) {
    return fail({CertFailure::other, "cannot set up TLS: " + openssl_error_text()});
  }
  const std::string server_name = request.server_name.empty() ? target->host : request.server_name;
  if (is_ip_literal(server_name)) {
    // RFC 6066 allows no IP address in SNI; the certificate is checked for the IP instead.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), server_name.c_str());
  } else {
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(server_name.c_str()));
    SSL_set1_host(ssl.get(), server_name.c_str());
  }
  SSL_set_connect_state(ssl.get());
  while (true) {
    const int result = SSL_do_handshake(ssl.get());
    if (result == 1) break;
    const int error = SSL_get_error(ssl.get(), result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      const Wait wait =
          wait_for(socket_fd.get(), error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, request.deadline, stop);
      if (wait != Wait::ready) return fail(wait_failure(wait, "the TLS handshake"));
      continue;
    }
    return fail({CertFailure::tls_handshake, handshake_error(ssl.get(), result)});
  }

  outcome.protocol = SSL_get_version(ssl.get());
  // On the client side the peer chain starts with the leaf.
  if (const STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get())) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      if (auto record = describe_certificate(*sk_X509_value(chain, i), i)) outcome.chain.push_back(std::move(*record));
    }
  }
  const long verify_result = SSL_get_verify_result(ssl.get());
  if (outcome.chain.empty()) {
    outcome.verify_error = "the server sent no certificate";
  } else if (!client.load_error().empty()) {
    outcome.verify_error = client.load_error();
  } else if (verify_result != X509_V_OK) {
    outcome.verify_error = X509_verify_cert_error_string(verify_result);
  } else {
    outcome.verified = true;
  }
  // A polite close; a peer that does not answer is not waited for.
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  return outcome;
}

}  // namespace assets
