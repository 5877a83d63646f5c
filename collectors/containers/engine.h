#pragma once
// The connection to a Docker-compatible engine. Its only operation is GET: the agent
// reads the engine's state and never creates, starts, stops or execs anything.
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <stop_token>
#include <string_view>

#include "collectors/containers/config.h"

namespace assets::containers {

// Why the engine could not be read; the values of assets_container_engine_failure{reason}.
enum class EngineFailure { none, not_found, permission_denied, timeout, protocol, api_error };
std::string_view to_string(EngineFailure failure);

struct EngineReply {
  EngineFailure failure = EngineFailure::none;  // set when no complete HTTP response arrived
  long status = 0;                              // HTTP status of a complete response
  std::string body;
  std::map<std::string, std::string> headers;  // of a complete response; names in lower case
  std::string detail;  // human-readable cause of a failure
};

class EngineTransport {
 public:
  virtual ~EngineTransport() = default;
  // `target` is the path and query, e.g. "/v1.41/containers/json?all=1". A body longer
  // than max_body_bytes is a protocol failure. Returns within `timeout`, or at once when
  // `stop` is requested (a timeout failure).
  virtual EngineReply get(const std::string& target, Duration timeout, std::size_t max_body_bytes,
                          std::stop_token stop) = 0;
  // Where the engine is, for logs and the status page: "unix:///var/run/docker.sock".
  virtual std::string endpoint() const = 0;
};

// libcurl over the unix socket (CURLOPT_UNIX_SOCKET_PATH) or tcp://host:port with
// optional TLS, from the containers section.
std::unique_ptr<EngineTransport> make_curl_transport(const ContainersConfig& config);

}  // namespace assets::containers
