#include "collectors/containers/engine.h"

#include <cerrno>
#include <memory>
#include <system_error>

#include <curl/curl.h>

#include "agent/reason.h"

namespace assets::containers {
namespace {

struct BodySink {
  std::string body;
  std::size_t limit = 0;
  bool overflow = false;
};

constexpr std::size_t kMaxHeaders = 100;

// Keeps the headers of the last response (a status line starts a new one).
std::size_t record_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  const std::size_t bytes = size * count;
  std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {
    headers->clear();
    return bytes;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || headers->size() >= kMaxHeaders) return bytes;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  (*headers)[name] = std::string(value);
  return bytes;
}

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const std::size_t bytes = size * count;
  if (sink->body.size() + bytes > sink->limit) {
    sink->overflow = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->body.append(data, bytes);
  return bytes;
}

EngineFailure connect_failure(long os_errno) {
  if (os_errno == EACCES || os_errno == EPERM) return EngineFailure::permission_denied;
  return EngineFailure::not_found;
}

// curl_easy_perform would look at nothing but its own timeout: a socket that accepts and
// never answers would hold a reload or a shutdown for the whole of it. A multi handle's
// poll is woken by the stop request instead.
CURLcode perform(CURL* handle, const std::stop_token& stop) {
  std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi(curl_multi_init(), &curl_multi_cleanup);
  if (!multi || curl_multi_add_handle(multi.get(), handle) != CURLM_OK) return CURLE_OUT_OF_MEMORY;
  CURLcode result = CURLE_ABORTED_BY_CALLBACK;
  {
    const std::stop_callback wake(stop, [&multi] { curl_multi_wakeup(multi.get()); });
    int running = 1;
    while (!stop.stop_requested()) {
      if (curl_multi_perform(multi.get(), &running) != CURLM_OK) {
        result = CURLE_RECV_ERROR;
        break;
      }
      if (running == 0) {
        int queued = 0;
        const CURLMsg* message = curl_multi_info_read(multi.get(), &queued);
        result = message != nullptr && message->msg == CURLMSG_DONE ? message->data.result : CURLE_RECV_ERROR;
        break;
      }
      curl_multi_poll(multi.get(), nullptr, 0, 1000, nullptr);
    }
  }
  curl_multi_remove_handle(multi.get(), handle);
  return result;
}

class CurlTransport final : public EngineTransport {
 public:
  explicit CurlTransport(const ContainersConfig& config) : tls_(config.tls) {
    if (config.host.empty()) {
      socket_path_ = config.socket;
      // The host part is only the Host header here; the socket decides where it goes.
      base_url_ = "http://localhost";
    } else {
      host_port_ = config.host.substr(std::string_view("tcp://").size());
      base_url_ = (tls_ ? "https://" : "http://") + host_port_;
      if (tls_ && !tls_->server_name.empty()) {
        // Verify (and send SNI for) server_name while connecting to the configured address.
        const std::size_t colon = host_port_.rfind(':');
        const std::string port = colon == std::string::npos ? "2376" : host_port_.substr(colon + 1);
        base_url_ = "https://" + tls_->server_name + ":" + port;
        connect_to_ = tls_->server_name + ":" + port + ":" + host_port_;
      }
    }
  }

  std::string endpoint() const override {
    if (!socket_path_.empty()) return "unix://" + socket_path_;
    return "tcp://" + host_port_;
  }

  EngineReply get(const std::string& target, Duration timeout, std::size_t max_body_bytes,
                  std::stop_token stop) override {
    EngineReply reply;
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) {
      reply.failure = EngineFailure::protocol;
      reply.detail = "curl_easy_init failed";
      return reply;
    }
    BodySink sink;
    sink.limit = max_body_bytes;
    char error_buffer[CURL_ERROR_SIZE] = {};
    const std::string url = base_url_ + target;
    const long timeout_ms = std::max<long>(1, static_cast<long>(timeout.count()));
    CURL* handle = curl.get();
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);  // the only method the agent ever sends
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(handle, CURLOPT_PROXY, "");  // HTTP(S)_PROXY must not divert engine traffic
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(handle, CURLOPT_USERAGENT, "assets-agent");
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &append_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
    std::map<std::string, std::string> headers;
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &record_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &headers);
    if (!socket_path_.empty()) curl_easy_setopt(handle, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> connect_to(nullptr, &curl_slist_free_all);
    if (!connect_to_.empty()) {
      connect_to.reset(curl_slist_append(nullptr, connect_to_.c_str()));
      curl_easy_setopt(handle, CURLOPT_CONNECT_TO, connect_to.get());
    }
    if (tls_) {
      if (!tls_->ca_file.empty()) curl_easy_setopt(handle, CURLOPT_CAINFO, tls_->ca_file.c_str());
      if (!tls_->cert_file.empty()) curl_easy_setopt(handle, CURLOPT_SSLCERT, tls_->cert_file.c_str());
      if (!tls_->key_file.empty()) curl_easy_setopt(handle, CURLOPT_SSLKEY, tls_->key_file.c_str());
      curl_easy_setopt(handle, CURLOPT_SSLVERSION, curl_min_version(tls_->min_version));
      if (tls_->insecure_skip_verify) {
        curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
      }
    }

    const CURLcode code = perform(handle, stop);
    if (code == CURLE_OK) {
      curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &reply.status);
      reply.body = std::move(sink.body);
      reply.headers = std::move(headers);
      return reply;
    }
    const std::string cause = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    long os_errno = 0;
    curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &os_errno);
    switch (code) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
        reply.failure = connect_failure(os_errno);
        break;
      case CURLE_OPERATION_TIMEDOUT:
      case CURLE_ABORTED_BY_CALLBACK:  // stopped: the run's result is dropped anyway
        reply.failure = EngineFailure::timeout;
        break;
      default:
        reply.failure = EngineFailure::protocol;
        break;
    }
    if (sink.overflow) {
      reply.detail = "response larger than " + std::to_string(max_body_bytes) + " bytes";
    } else if (code == CURLE_COULDNT_CONNECT && os_errno != 0) {
      // curl names "localhost port 80" for a unix socket; the OS error says what happened.
      reply.detail =
          endpoint() + ": connect: " + std::error_code(static_cast<int>(os_errno), std::generic_category()).message();
    } else {
      reply.detail = endpoint() + ": " + cause;
    }
    return reply;
  }

 private:
  std::optional<TlsConfig> tls_;
  std::string socket_path_;
  std::string host_port_;
  std::string base_url_;
  std::string connect_to_;
};

}  // namespace

std::string_view to_string(EngineFailure failure) {
  switch (failure) {
    case EngineFailure::none: return "";
    case EngineFailure::not_found: return reason::kNotFound;
    case EngineFailure::permission_denied: return reason::kPermissionDenied;
    case EngineFailure::timeout: return reason::kTimeout;
    case EngineFailure::protocol: return reason::kProtocol;
    case EngineFailure::api_error: return "api_error";
  }
  return reason::kProtocol;
}

std::unique_ptr<EngineTransport> make_curl_transport(const ContainersConfig& config) {
  return std::make_unique<CurlTransport>(config);
}

}  // namespace assets::containers
