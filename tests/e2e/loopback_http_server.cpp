#include "tests/e2e/loopback_http_server.h"

#include <civetweb.h>

#include <algorithm>
#include <string>
#include <vector>

namespace assets::testing {
namespace {

int dispatch(mg_connection* connection, void* server_pointer) {
  const auto& server = *static_cast<const LoopbackHttpServer*>(server_pointer);
  const mg_request_info* request = mg_get_request_info(connection);
  HttpExchange exchange;
  exchange.method = request->request_method != nullptr ? request->request_method : "";
  exchange.path = request->local_uri != nullptr ? request->local_uri : "";
  std::vector<char> buffer(16384);
  while (exchange.body.size() < LoopbackHttpServer::kMaxBodyBytes) {
    const std::size_t wanted = std::min(buffer.size(), LoopbackHttpServer::kMaxBodyBytes - exchange.body.size());
    const int n = mg_read(connection, buffer.data(), wanted);
    if (n <= 0) break;
    exchange.body.append(buffer.data(), static_cast<std::size_t>(n));
  }
  const HttpReply reply = server.handle(exchange);
  mg_response_header_start(connection, reply.status);
  mg_response_header_add(connection, "Content-Type", reply.content_type.c_str(), -1);
  mg_response_header_add(connection, "Content-Length", std::to_string(reply.body.size()).c_str(), -1);
  for (const auto& [name, value] : reply.headers) mg_response_header_add(connection, name.c_str(), value.c_str(), -1);
  mg_response_header_send(connection);
  if (!reply.body.empty()) mg_write(connection, reply.body.data(), reply.body.size());
  return reply.status;
}

}  // namespace

LoopbackHttpServer::LoopbackHttpServer(Handler handler) : handler_(std::move(handler)) { mg_init_library(0); }

LoopbackHttpServer::~LoopbackHttpServer() {
  stop();
  mg_exit_library();
}

bool LoopbackHttpServer::start(int port) {
  if (context_ != nullptr) return true;
  if (port == 0) port = port_;
  const std::string listening = "127.0.0.1:" + std::to_string(port);
  // Keep-alive off: a stopped server must not leave a connection the agent could reuse.
  const char* options[] = {"listening_ports", listening.c_str(), "num_threads", "4", "enable_keep_alive", "no",
                           "request_timeout_ms", "5000", nullptr};
  mg_callbacks callbacks{};
  context_ = mg_start(&callbacks, nullptr, options);
  if (context_ == nullptr) return false;
  mg_server_port bound{};
  if (mg_get_server_ports(context_, 1, &bound) != 1) {
    stop();
    return false;
  }
  port_ = bound.port;
  mg_set_request_handler(context_, "/", dispatch, this);
  return true;
}

void LoopbackHttpServer::stop() {
  if (context_ == nullptr) return;
  mg_stop(context_);
  context_ = nullptr;
}

std::string LoopbackHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

}  // namespace assets::testing
