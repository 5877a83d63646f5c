#pragma once
// A small HTTP server on 127.0.0.1 (civetweb) for the end-to-end test: the target of the
// agent's health check, and the webhook receiver Alertmanager posts to; and a server that
// misbehaves for `assets-agent healthcheck`'s test. It can be stopped
// and started again on the same port, so a test can take a target away and bring it back.
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

struct mg_context;

namespace assets::testing {

struct HttpExchange {
  std::string method;
  std::string path;
  std::string body;  // at most LoopbackHttpServer::kMaxBodyBytes
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more, e.g. Location
};

class LoopbackHttpServer {
 public:
  static constexpr std::size_t kMaxBodyBytes = 1 << 20;
  using Handler = std::function<HttpReply(const HttpExchange&)>;

  // The handler runs on civetweb's worker threads: it must be thread-safe.
  explicit LoopbackHttpServer(Handler handler);
  ~LoopbackHttpServer();
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  // Listens on 127.0.0.1:port (a free port when 0, and the previous port on a restart).
  // False when the port cannot be bound.
  bool start(int port = 0);
  // Closes the listening socket and every connection; afterwards connections are refused.
  void stop();
  bool running() const { return context_ != nullptr; }
  int port() const { return port_; }
  std::string url(const std::string& path) const;

  // civetweb's request callback; public only so the C callback can reach it.
  HttpReply handle(const HttpExchange& exchange) const { return handler_(exchange); }

 private:
  Handler handler_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace assets::testing
