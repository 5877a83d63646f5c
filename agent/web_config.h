#pragma once
// The web configuration (--web.config.file), in the format of Prometheus' exporter-toolkit,
// so a file written for node_exporter works here unchanged: TLS for the endpoints
// (tls_server_config), basic auth with bcrypt hashes (basic_auth_users) and response
// headers (http_server_config.headers). Beyond the toolkit: a bearer token
// (bearer_token_file) and paths served without authentication (unauthenticated_paths).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/secret.h"

namespace assets {

// exporter-toolkit's client_auth_type values, in Go's crypto/tls order.
enum class ClientAuth { none, request, require_any, verify_if_given, require_and_verify };

struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  ClientAuth client_auth = ClientAuth::none;
  std::vector<std::string> client_allowed_sans;
  int min_version = 0;  // OpenSSL protocol version constants; TLS 1.2 by default
  int max_version = 0;  // 0: the newest the library has
  std::vector<std::string> cipher_suites;      // IANA names, as Go spells them; TLS 1.2 and older
  std::vector<std::string> curve_preferences;  // OpenSSL group names, mapped from Go's
  bool prefer_server_cipher_suites = true;
  bool operator==(const TlsServerConfig&) const = default;
};

struct WebConfig {
  std::string source;  // the file; empty when no --web.config.file is given
  std::optional<TlsServerConfig> tls;
  std::map<std::string, Secret> basic_auth_users;  // user -> bcrypt hash
  Secret bearer_token;
  std::vector<std::string> unauthenticated_paths;
  std::map<std::string, std::string> headers;  // sent with every response

  bool requires_authentication() const { return !basic_auth_users.empty() || !bearer_token.empty(); }
};

struct WebConfigResult {
  std::optional<WebConfig> config;
  std::vector<ConfigError> errors;  // in document order
};

WebConfigResult parse_web_config(std::string_view yaml, const std::string& file, const ConfigOptions& options = {});
WebConfigResult load_web_config_file(const std::string& path, const ConfigOptions& options = {});

}  // namespace assets
