#include "agent/web_server.h"

#include <civetweb.h>

#include <atomic>
#include <cctype>
#include <ctime>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "agent/log.h"
#include "agent/web_auth.h"
#include "agent/web_tls.h"

namespace assets {

struct WebServer::Security {
  WebConfig config;
  WebAuthenticator authenticator;
  explicit Security(const WebConfig& web) : config(web), authenticator(web) {}
};

namespace {

struct Response {
  int status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string_view body;
  std::vector<std::pair<const char*, std::string>> headers;
};

// The Date header, made here: civetweb makes it with gmtime(), whose shared buffer two
// workers answering at once would race on (ThreadSanitizer shows it).
std::string http_date_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return text;
}

void send(mg_connection* connection, const Response& response, bool head_only) {
  mg_response_header_start(connection, response.status);
  mg_response_header_add(connection, "Date", http_date_now().c_str(), -1);
  mg_response_header_add(connection, "Content-Type", std::string(response.content_type).c_str(), -1);
  mg_response_header_add(connection, "Content-Length", std::to_string(response.body.size()).c_str(), -1);
  for (const auto& [name, value] : response.headers) mg_response_header_add(connection, name, value.c_str(), -1);
  mg_response_header_send(connection);
  if (!head_only && !response.body.empty()) mg_write(connection, response.body.data(), response.body.size());
}

std::string g_start_error;  // the last message civetweb logged while starting
std::mutex g_start_error_mutex;

// While a server starts, civetweb's messages say why it cannot; once it runs, they are
// about single connections (a client that fails its TLS handshake, one that sends garbage),
// which anyone who reaches the port can cause as often as they like: debug level.
std::atomic<int> g_servers_starting{0};

int log_civetweb_message(const mg_connection*, const char* message) {
  if (g_servers_starting.load() > 0) {
    {
      std::lock_guard lock(g_start_error_mutex);
      g_start_error = message;
    }
    log::warn("web server", {{"error", message}});
  } else {
    log::debug("web server", {{"error", message}});
  }
  return 1;
}

}  // namespace

std::string to_civetweb_port(const std::string& listen_address) {
  if (!listen_address.empty() && listen_address.front() == ':') return listen_address.substr(1);
  return listen_address;
}

bool accepts_gzip(std::string_view accept_encoding) {
  // RFC 9110 12.5.3: a coding named with q=0 is refused even where "*" would admit it.
  std::optional<double> gzip_q;
  std::optional<double> any_q;
  std::size_t start = 0;
  while (start <= accept_encoding.size()) {
    auto end = accept_encoding.find(',', start);
    if (end == std::string_view::npos) end = accept_encoding.size();
    std::string element;
    for (char c : accept_encoding.substr(start, end - start)) {
      if (!std::isspace(static_cast<unsigned char>(c))) element += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    start = end + 1;
    const auto semicolon = element.find(';');
    const std::string coding = element.substr(0, semicolon);
    double q = 1;
    if (semicolon != std::string::npos) {
      const std::string parameter = element.substr(semicolon + 1);
      if (parameter.rfind("q=", 0) != 0) continue;
      char* parsed_end = nullptr;
      q = std::strtod(parameter.c_str() + 2, &parsed_end);
      if (parsed_end == parameter.c_str() + 2 || *parsed_end != '\0' || q < 0 || q > 1) continue;
    }
    if (coding == "gzip" || coding == "x-gzip") gzip_q = q;
    if (coding == "*") any_q = q;
  }
  if (gzip_q) return *gzip_q > 0;
  return any_q && *any_q > 0;
}

WebServer::WebServer(const WebOptions& options, const Store& store, ReloadHandler reload, const WebConfig& web_config)
    : store_(store),
      reload_(std::move(reload)),
      enable_lifecycle_(options.enable_lifecycle),
      tls_config_(web_config.tls),
      security_(std::make_shared<const Security>(web_config)) {
  if (web_config.tls) tls_ = std::make_unique<TlsServerContext>(*web_config.tls);
  // civetweb resolves its OpenSSL functions here; should that fail it would still listen on
  // the TLS ports and crash at the first connection, so the agent refuses to start.
  const unsigned features = mg_init_library(tls_ ? MG_FEATURES_TLS : 0);
  if (tls_ && (features & MG_FEATURES_TLS) == 0) {
    mg_exit_library();
    throw std::runtime_error("civetweb cannot load OpenSSL (libssl.so and libcrypto.so from the agent's lib directory)");
  }
  std::string ports;
  for (const auto& address : options.listen_addresses) {
    if (!ports.empty()) ports += ',';
    ports += to_civetweb_port(address) + (tls_ ? "s" : "");
  }
  const std::string threads = std::to_string(options.max_connections);
  const std::string max_request = std::to_string(options.max_request_bytes);
  const std::string request_timeout = std::to_string(options.request_timeout_ms);
  const char* civetweb_options[] = {"listening_ports", ports.c_str(),
                                    "num_threads", threads.c_str(),
                                    "max_request_size", max_request.c_str(),
                                    "request_timeout_ms", request_timeout.c_str(),
                                    "enable_keep_alive", "no",
                                    "enable_directory_listing", "no",
                                    // Headers and body go out in separate writes: without this,
                                    // Nagle and delayed ACKs add 40 ms to every scrape.
                                    "tcp_nodelay", "1",
                                    nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = log_civetweb_message;
  // civetweb serves TLS with the context the agent built; it still resolves its OpenSSL
  // functions by dlopen("libssl.so"), which the agent's own lib directory provides (see
  // CMakeLists.txt), so only the runtime libssl3 package is needed.
  callbacks.external_ssl_ctx = [](void** ssl_context, void* user_data) {
    const auto& self = *static_cast<const WebServer*>(user_data);
    if (!self.tls_) return 0;
    *ssl_context = self.tls_->get();
    return 1;
  };
  ++g_servers_starting;
  context_ = mg_start(&callbacks, this, civetweb_options);
  --g_servers_starting;
  if (context_ == nullptr) {
    mg_exit_library();
    std::lock_guard lock(g_start_error_mutex);
    throw std::runtime_error("cannot listen on " + ports + (g_start_error.empty() ? "" : ": " + g_start_error));
  }
  mg_set_request_handler(context_, "/", &WebServer::dispatch, this);
}

WebServer::~WebServer() {
  mg_stop(context_);
  mg_exit_library();
}

std::shared_ptr<const WebServer::Security> WebServer::security() const {
  std::lock_guard lock(security_mutex_);
  return security_;
}

std::optional<std::string> WebServer::reload_refusal(const WebConfig& web_config) const {
  if (web_config.tls == tls_config_) return std::nullopt;
  return std::string("tls_server_config changed: TLS settings apply at a restart (renewed certificate, key and CA "
                     "files are picked up without one)");
}

void WebServer::set_web_config(const WebConfig& web_config) {
  auto security = std::make_shared<const Security>(web_config);
  std::lock_guard lock(security_mutex_);
  security_ = std::move(security);
}

std::vector<int> WebServer::ports() const {
  std::vector<mg_server_port> found(16);
  const int count = mg_get_server_ports(context_, static_cast<int>(found.size()), found.data());
  std::vector<int> out;
  for (int i = 0; i < count; ++i) out.push_back(found[static_cast<std::size_t>(i)].port);
  return out;
}

int WebServer::dispatch(mg_connection* connection, void* self_pointer) {
  auto& self = *static_cast<WebServer*>(self_pointer);
  const mg_request_info* request = mg_get_request_info(connection);
  const std::string_view path = request->local_uri != nullptr ? request->local_uri : "";
  const std::string_view method = request->request_method != nullptr ? request->request_method : "";
  const bool read_method = method == "GET" || method == "HEAD";
  const bool head_only = method == "HEAD";

  Response response;
  const std::shared_ptr<const Security> security = self.security();
  for (const auto& [name, value] : security->config.headers) response.headers.emplace_back(name.c_str(), value);
  auto method_not_allowed = [&](std::string allowed) {
    response.status = 405;
    response.body = "method not allowed\n";
    response.headers.emplace_back("Allow", std::move(allowed));
  };

  // The snapshot is held for the whole response, so a swap during the write is harmless.
  std::shared_ptr<const Snapshot> snapshot;
  std::string page;
  if (!security->authenticator.allows(path, mg_get_header(connection, "Authorization"))) {
    response.status = 401;
    response.body = "unauthorized\n";
    response.headers.emplace_back("WWW-Authenticate", security->authenticator.challenge());
  } else if (path == "/metrics") {
    if (!read_method) {
      method_not_allowed("GET, HEAD");
    } else {
      snapshot = self.store_.snapshot();
      response.content_type = kMetricsContentType;
      const char* accept = mg_get_header(connection, "Accept-Encoding");
      if (accept != nullptr && accepts_gzip(accept)) {
        response.body = snapshot->gzip;
        response.headers.emplace_back("Content-Encoding", "gzip");
      } else {
        response.body = snapshot->text;
      }
      response.headers.emplace_back("Vary", "Accept-Encoding");
    }
  } else if (path == "/healthz" || path == "/-/healthy") {
    if (!read_method) {
      method_not_allowed("GET, HEAD");
    } else {
      response.body = "ok\n";
    }
  } else if (path == "/-/ready") {
    if (!read_method) {
      method_not_allowed("GET, HEAD");
    } else {
      snapshot = self.store_.snapshot();
      if (snapshot->ready) {
        response.body = "ready\n";
      } else {
        response.status = 503;
        page = "not ready: waiting for the first run of";
        for (const auto& collector : snapshot->collectors) {
          if (!collector.has_run) page += " " + collector.name;
        }
        page += "\n";
        response.body = page;
      }
    }
  } else if (path == "/-/reload") {
    if (method != "POST" && method != "PUT") {
      method_not_allowed("POST, PUT");
    } else if (!self.enable_lifecycle_) {
      response.status = 403;
      response.body = "Lifecycle API is not enabled: start the agent with --web.enable-lifecycle (SIGHUP reloads either way)\n";
    } else {
      const ReloadOutcome outcome = self.reload_();
      response.status = outcome.success ? 200 : 500;
      page = outcome.message + "\n";
      response.body = page;
    }
  } else if (path == "/") {
    if (!read_method) {
      method_not_allowed("GET, HEAD");
    } else {
      page = render_status_page(*self.store_.snapshot());
      response.content_type = "text/html; charset=utf-8";
      response.body = page;
    }
  } else {
    response.status = 404;
    response.body = "not found\n";
  }
  send(connection, response, head_only);
  return response.status;
}

}  // namespace assets
