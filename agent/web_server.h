#pragma once
// The HTTP endpoints, on civetweb: /metrics serves the latest snapshot as it is; nothing
// here waits on a target.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/store.h"
#include "agent/web_config.h"

struct mg_context;
struct mg_connection;

namespace assets {

class TlsServerContext;

// civetweb serves each connection on a worker thread of its own until the connection
// closes, so an idle or slow connection holds a worker. Hence: as many workers as
// connections are allowed, no keep-alive (a worker is held only while a request is read
// or answered; a scrape every 15 s gains nothing from it), and a deadline on reading the
// request, so that slow or silent clients give their workers back.
struct WebOptions {
  std::vector<std::string> listen_addresses{":9842"};
  int max_connections = 64;         // worker threads: connections served at once
  int max_request_bytes = 8192;     // request line and headers
  int request_timeout_ms = 5000;    // to read the request; then the connection is closed
  // POST /-/reload, as Prometheus' --web.enable-lifecycle; SIGHUP works either way.
  bool enable_lifecycle = false;
};

struct ReloadOutcome {
  bool success = false;
  std::string message;
};

class WebServer {
 public:
  using ReloadHandler = std::function<ReloadOutcome()>;

  // Throws std::runtime_error naming the address when it cannot listen, or the file when
  // the web config's TLS files cannot be used.
  WebServer(const WebOptions& options, const Store& store, ReloadHandler reload, const WebConfig& web_config = {});
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  std::vector<int> ports() const;
  bool serves_tls() const { return tls_ != nullptr; }
  // Why a reloaded web config cannot be taken: its TLS settings differ from those the
  // listeners started with (a reload that would drop or weaken TLS must not look done).
  std::optional<std::string> reload_refusal(const WebConfig& web_config) const;
  // A reloaded web config: authentication and headers apply to the next request.
  void set_web_config(const WebConfig& web_config);

 private:
  struct Security;
  static int dispatch(::mg_connection* connection, void* self);
  std::shared_ptr<const Security> security() const;

  const Store& store_;
  ReloadHandler reload_;
  bool enable_lifecycle_;
  std::unique_ptr<TlsServerContext> tls_;
  std::optional<TlsServerConfig> tls_config_;
  mutable std::mutex security_mutex_;
  std::shared_ptr<const Security> security_;
  mg_context* context_ = nullptr;
};

// ":9842" -> "9842", "127.0.0.1:0" stays, "[::1]:9842" stays: civetweb's listening_ports.
std::string to_civetweb_port(const std::string& listen_address);
// Whether an Accept-Encoding header value admits gzip.
bool accepts_gzip(std::string_view accept_encoding);

std::string render_status_page(const Snapshot& snapshot);

}  // namespace assets
