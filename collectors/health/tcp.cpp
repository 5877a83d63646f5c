#include "collectors/health/tcp.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <re2/re2.h>

#include "collectors/health/net.h"
#include "collectors/net/socket.h"
#include "agent/openssl_errors.h"
#include "collectors/net/tls.h"

namespace assets::health {
namespace {

struct SslCtxDeleter {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// A failure of a step: reason label and detail; `stopped` when a stop was requested.
struct StepError {
  std::string_view reason;
  std::string detail;
  bool stopped = false;
};

// The socket, plain or wrapped in TLS; all operations are non-blocking with a deadline.
class Stream {
 public:
  Stream(net::UniqueFd fd, Clock::time_point deadline, std::stop_token stop)
      : fd_(std::move(fd)), deadline_(deadline), stop_(std::move(stop)) {}

  std::optional<StepError> start_tls(const TlsConfig& tls, const std::string& host);
  std::optional<StepError> send_all(std::string_view data);
  // Reads until `expect` matches what arrived, the peer closes, or max_bytes arrived.
  std::optional<StepError> read_until(const re2::RE2& expect, std::uint64_t max_bytes);

 private:
  // Read or write once: bytes moved, 0 at end of stream, -1 when the operation must wait
  // (want_ then holds POLLIN or POLLOUT), -2 on error (error_ holds the text).
  long transfer(bool write, char* data, std::size_t size);
  std::optional<StepError> wait(short events, std::string_view doing);

  net::UniqueFd fd_;
  Clock::time_point deadline_;
  std::stop_token stop_;
  SslCtxPtr context_;
  SslPtr ssl_;
  short want_ = 0;
  std::string error_;
};

std::optional<StepError> Stream::wait(short events, std::string_view doing) {
  switch (net::wait_for(fd_.get(), events, deadline_, stop_)) {
    case net::WaitResult::ready:
      return std::nullopt;
    case net::WaitResult::timeout:
      return StepError{reason::kTimeout, std::string(doing) + ": timed out"};
    case net::WaitResult::stopped:
      break;
  }
  return StepError{reason::kOther, "stopped", true};
}

std::optional<StepError> Stream::start_tls(const TlsConfig& tls, const std::string& host) {
  context_.reset(SSL_CTX_new(TLS_client_method()));
  if (!context_) return StepError{reason::kTls, "TLS setup: " + openssl_errors()};
  SSL_CTX* context = context_.get();
  if (const int version = openssl_min_version(tls.min_version); version != 0) SSL_CTX_set_min_proto_version(context, version);
  const bool trusted = tls.ca_file.empty() ? SSL_CTX_set_default_verify_paths(context) == 1
                                           : SSL_CTX_load_verify_locations(context, tls.ca_file.c_str(), nullptr) == 1;
  if (!trusted) return StepError{reason::kTls, "loading CA file " + tls.ca_file + ": " + openssl_errors()};
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(context, tls.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(context, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(context) != 1) {
      return StepError{reason::kTls, "loading client certificate " + tls.cert_file + ": " + openssl_errors()};
    }
  }
  SSL_CTX_set_verify(context, tls.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);

  ssl_.reset(SSL_new(context));
  SSL* ssl = ssl_.get();
  if (ssl == nullptr || SSL_set_fd(ssl, fd_.get()) != 1) {
    return StepError{reason::kTls, "TLS setup: " + openssl_errors()};
  }
  net::expect_peer_name(ssl, tls.server_name.empty() ? host : tls.server_name);
  while (true) {
    ERR_clear_error();
    const int done = SSL_connect(ssl);
    if (done == 1) return std::nullopt;
    const int error = SSL_get_error(ssl, done);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      if (auto failure = wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, "TLS handshake")) return failure;
      continue;
    }
    const long verify = SSL_get_verify_result(ssl);
    std::string detail = "TLS handshake: ";
    if (verify != X509_V_OK) {
      detail += std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    } else if (std::string errors = openssl_errors(); !errors.empty()) {
      detail += errors;
    } else {
      detail += "connection closed by the peer";
    }
    return StepError{reason::kTls, detail};
  }
}

long Stream::transfer(bool write, char* data, std::size_t size) {
  if (!ssl_) {
    const ssize_t moved = write ? ::send(fd_.get(), data, size, MSG_NOSIGNAL) : ::recv(fd_.get(), data, size, 0);
    if (moved >= 0) return moved;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      want_ = write ? POLLOUT : POLLIN;
      return -1;
    }
    error_ = std::strerror(errno);
    return -2;
  }
  ERR_clear_error();
  const int length = static_cast<int>(std::min<std::size_t>(size, 1 << 20));
  const int moved = write ? SSL_write(ssl_.get(), data, length) : SSL_read(ssl_.get(), data, length);
  if (moved > 0) return moved;
  switch (SSL_get_error(ssl_.get(), moved)) {
    case SSL_ERROR_WANT_READ:
      want_ = POLLIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      want_ = POLLOUT;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    default: {
      const std::string errors = openssl_errors();
      // A peer that closes without close_notify looks like an error to OpenSSL: treat as end.
      if (errors.empty() && !write) return 0;
      error_ = errors.empty() ? std::string(std::strerror(errno)) : errors;
      return -2;
    }
  }
}

std::optional<StepError> Stream::send_all(std::string_view data) {
  std::string pending(data);
  std::size_t sent = 0;
  while (sent < pending.size()) {
    const long moved = transfer(true, pending.data() + sent, pending.size() - sent);
    if (moved > 0) {
      sent += static_cast<std::size_t>(moved);
    } else if (moved == -1) {
      if (auto failure = wait(want_, "sending")) return failure;
    } else {
      return StepError{reason::kOther, "sending: " + (moved == 0 ? std::string("connection closed") : error_)};
    }
  }
  return std::nullopt;
}

std::optional<StepError> Stream::read_until(const re2::RE2& expect, std::uint64_t max_bytes) {
  ExpectMatcher matcher(expect);
  if (matcher.matched(true)) return std::nullopt;
  std::array<char, 16384> buffer{};
  const auto no_match = [&](std::string how) {
    return StepError{reason::kProtocol, how + " without a match for expect \"" + expect.pattern() + "\""};
  };
  while (true) {
    // A peer that keeps sending never makes a read wait: the deadline is checked here too.
    if (stop_.stop_requested()) return StepError{reason::kOther, "stopped", true};
    if (Clock::now() >= deadline_) {
      if (matcher.matched(true)) return std::nullopt;
      return StepError{reason::kTimeout, "waiting for an answer matching expect \"" + expect.pattern() +
                                             "\": timed out (" + std::to_string(matcher.size()) + " bytes received)"};
    }
    if (matcher.size() >= max_bytes) {
      if (matcher.matched(true)) return std::nullopt;
      return no_match("the first " + std::to_string(matcher.size()) + " bytes received");
    }
    const std::size_t room = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), max_bytes - matcher.size()));
    const long moved = transfer(false, buffer.data(), room);
    if (moved > 0) {
      matcher.append(std::string_view(buffer.data(), static_cast<std::size_t>(moved)));
      if (matcher.matched(false)) return std::nullopt;
    } else if (moved == -1) {
      if (matcher.matched(true)) return std::nullopt;
      if (auto failure = wait(want_, "waiting for an answer matching expect \"" + expect.pattern() + "\"")) {
        failure->detail += " (" + std::to_string(matcher.size()) + " bytes received)";
        return failure;
      }
    } else if (moved == 0) {
      if (matcher.matched(true)) return std::nullopt;
      return no_match("connection closed after " + std::to_string(matcher.size()) + " bytes");
    } else {
      // A peer that answered and then reset (or ended TLS without close_notify) may have
      // sent the match in the last bytes read.
      if (matcher.matched(true)) return std::nullopt;
      return StepError{reason::kOther, "receiving: " + error_};
    }
  }
}

CheckResult failure_result(const StepError& error) { return failed(error.reason, error.detail); }

}  // namespace

bool ExpectMatcher::matched(bool pausing) {
  const bool due = !attempted_ || received_.size() >= 2 * size_at_last_attempt_;
  if (!(pausing || due) || (attempted_ && received_.size() == size_at_last_attempt_)) return false;
  attempted_ = true;
  size_at_last_attempt_ = received_.size();
  return re2::RE2::PartialMatch(received_, expect_);
}

TcpProbe::TcpProbe(const TcpCheck& config, Duration timeout) : config_(config), timeout_(timeout) {}

TcpProbe::~TcpProbe() = default;

std::optional<CheckResult> TcpProbe::run(Clock::time_point deadline, std::stop_token stop) const {
  const auto started = Clock::now();
  deadline = std::min(deadline, started + timeout_);
  const net::SigpipeGuard no_sigpipe;
  const auto outcome = [&]() -> std::optional<StepError> {
    const auto address = split_host_port(config_.address);
    if (!address) return StepError{reason::kOther, "address must be host:port: " + config_.address};
    auto connection = net::connect_to(*address, deadline, stop);
    if (const auto& failure = connection.failure) {
      return StepError{reason_of(*failure), failure->detail, failure->kind == net::FailureKind::stopped};
    }
    Stream stream(std::move(connection.fd), deadline, stop);
    if (config_.tls) {
      if (auto failure = stream.start_tls(*config_.tls, address->host)) return failure;
    }
    if (!config_.send.empty()) {
      if (auto failure = stream.send_all(config_.send)) return failure;
    }
    if (!config_.expect.empty()) return stream.read_until(config_.expect.compiled(), config_.max_response_bytes);
    return std::nullopt;
  }();
  if (outcome && outcome->stopped) return std::nullopt;
  CheckResult result = outcome ? failure_result(*outcome) : CheckResult{};
  result.up = !outcome;
  result.detail = sanitize_detail(result.detail, {});
  result.duration_seconds = seconds_between(started, Clock::now());
  return result;
}

}  // namespace assets::health
