#include "agent/web_config.h"

#include <algorithm>
#include <memory>

#include <openssl/ssl.h>
#include <yaml-cpp/yaml.h>

#include "agent/config_reader.h"

namespace assets {
namespace {

constexpr std::uint64_t kMaxWebConfigBytes = 1 << 20;

const std::pair<std::string_view, ClientAuth> kClientAuthTypes[] = {
    {"NoClientCert", ClientAuth::none},
    {"RequestClientCert", ClientAuth::request},
    {"RequireAnyClientCert", ClientAuth::require_any},
    {"RequireClientCert", ClientAuth::require_any},  // exporter-toolkit's older name, still accepted there
    {"VerifyClientCertIfGiven", ClientAuth::verify_if_given},
    {"RequireAndVerifyClientCert", ClientAuth::require_and_verify}};
const std::pair<std::string_view, int> kTlsVersions[] = {
    {"TLS10", TLS1_VERSION}, {"TLS11", TLS1_1_VERSION}, {"TLS12", TLS1_2_VERSION}, {"TLS13", TLS1_3_VERSION}};
// Go's names of the groups crypto/tls offers, and OpenSSL's for the same.
const std::pair<std::string_view, std::string> kCurves[] = {
    {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}, {"X25519", "X25519"}};
// The headers exporter-toolkit lets a web config set, with the values it accepts (empty: any).
const std::pair<std::string_view, std::vector<std::string_view>> kAllowedHeaders[] = {
    {"Strict-Transport-Security", {}},
    {"X-Content-Type-Options", {"nosniff"}},
    {"X-Frame-Options", {"deny", "sameorigin"}},
    {"X-XSS-Protection", {}},
    {"Content-Security-Policy", {}}};

// The cipher suites (TLS 1.2 and older) this OpenSSL offers, by their IANA name, which is
// how Go and so exporter-toolkit name them.
std::vector<std::string> known_cipher_suites() {
  std::vector<std::string> names;
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!context || SSL_CTX_set_cipher_list(context.get(), "ALL") != 1) return names;
  const STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(context.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    if (SSL_CIPHER_get_protocol_id(cipher) == 0) continue;
    if (const char* name = SSL_CIPHER_standard_name(cipher)) names.emplace_back(name);
  }
  return names;
}

std::optional<TlsServerConfig> decode_tls_server(ConfigReader& reader, MapReader& top) {
  const YAML::Node node = top.get("tls_server_config");
  if (!node.IsDefined()) return std::nullopt;
  MapReader map(reader, node, "tls_server_config");
  if (!map.valid()) return std::nullopt;
  TlsServerConfig tls;
  tls.min_version = TLS1_2_VERSION;
  map.require("cert_file");
  map.require("key_file");
  map.read_path_of_regular_file("cert_file", tls.cert_file);
  map.read_path_of_regular_file("key_file", tls.key_file);
  map.read_path_of_regular_file("client_ca_file", tls.client_ca_file);
  map.read_one_of("client_auth_type", tls.client_auth, kClientAuthTypes);
  map.read("client_allowed_sans", tls.client_allowed_sans);
  map.read_one_of("min_version", tls.min_version, kTlsVersions);
  map.read_one_of("max_version", tls.max_version, kTlsVersions);
  map.read("prefer_server_cipher_suites", tls.prefer_server_cipher_suites);
  if (std::vector<std::string> suites; map.has("cipher_suites")) {
    map.read("cipher_suites", suites);
    const std::vector<std::string> known = known_cipher_suites();
    for (std::size_t i = 0; i < suites.size(); ++i) {
      if (std::find(known.begin(), known.end(), suites[i]) == known.end()) {
        reader.error(map.get("cipher_suites")[i], indexed(map.path("cipher_suites"), i),
                     "unknown cipher suite " + quote(suites[i]) + " (IANA names, as in Go's crypto/tls)");
      }
    }
    tls.cipher_suites = std::move(suites);
  }
  if (std::vector<std::string> curves; map.has("curve_preferences")) {
    map.read("curve_preferences", curves);
    for (std::size_t i = 0; i < curves.size(); ++i) {
      const auto* known = std::find_if(std::begin(kCurves), std::end(kCurves),
                                       [&](const auto& curve) { return curve.first == curves[i]; });
      if (known == std::end(kCurves)) {
        reader.error(map.get("curve_preferences")[i], indexed(map.path("curve_preferences"), i),
                     "must be one of CurveP256, CurveP384, CurveP521, X25519, not " + quote(curves[i]));
      } else {
        tls.curve_preferences.push_back(known->second);
      }
    }
  }
  map.finish();
  if (tls.max_version != 0 && tls.max_version < tls.min_version) {
    reader.error(map.get("max_version"), map.path("max_version"), "must not be older than min_version");
  }
  const bool verifies = tls.client_auth == ClientAuth::verify_if_given || tls.client_auth == ClientAuth::require_and_verify;
  if (verifies && !map.has("client_ca_file")) {
    reader.error(map.get("client_auth_type"), map.path("client_ca_file"),
                 "is required to verify client certificates");
  }
  if (tls.client_auth == ClientAuth::none && map.has("client_ca_file")) {
    reader.error(map.get("client_ca_file"), map.path("client_ca_file"),
                 "is set, but client_auth_type is NoClientCert (the default): no client certificate is asked for");
  }
  if (!tls.client_allowed_sans.empty() && !verifies) {
    reader.error(map.get("client_allowed_sans"), map.path("client_allowed_sans"),
                 "needs client_auth_type VerifyClientCertIfGiven or RequireAndVerifyClientCert");
  }
  return tls;
}

void decode_http_server(ConfigReader& reader, MapReader& top, WebConfig& web) {
  const YAML::Node node = top.get("http_server_config");
  if (!node.IsDefined()) return;
  MapReader map(reader, node, "http_server_config");
  if (!map.valid()) return;
  bool http2 = true;  // accepted for compatibility; civetweb speaks HTTP/1.1 only
  map.read("http2", http2);
  map.read("headers", web.headers);
  map.finish();
  for (const auto& header : web.headers) {
    // Named copies: clang 14 (the fuzz build) cannot capture structured bindings.
    const std::string& name = header.first;
    const std::string& value = header.second;
    const auto* allowed = std::find_if(std::begin(kAllowedHeaders), std::end(kAllowedHeaders),
                                       [&](const auto& allowed_header) { return allowed_header.first == name; });
    const std::string path = map.path("headers") + "." + name;
    if (allowed == std::end(kAllowedHeaders)) {
      reader.error(map.get("headers")[name], path,
                   "not a header the web config may set (Strict-Transport-Security, X-Content-Type-Options, "
                   "X-Frame-Options, X-XSS-Protection, Content-Security-Policy)");
    } else if (std::any_of(value.begin(), value.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
      reader.error(map.get("headers")[name], path, "must not contain control characters");
    } else if (!allowed->second.empty() &&
               std::find(allowed->second.begin(), allowed->second.end(), value) == allowed->second.end()) {
      std::string values;
      for (std::string_view one : allowed->second) values += (values.empty() ? "" : ", ") + std::string(one);
      reader.error(map.get("headers")[name], path, "must be one of " + values + ", not " + quote(value));
    }
  }
}

void decode_basic_auth_users(ConfigReader& reader, MapReader& top, WebConfig& web) {
  const YAML::Node node = top.get("basic_auth_users");
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    reader.error(node, "basic_auth_users", "must be a map of user name to bcrypt hash");
    return;
  }
  for (const auto& entry : node) {
    const auto user = reader.scalar(entry.first, "basic_auth_users");
    if (!user) continue;
    const std::string path = "basic_auth_users." + *user;
    if (user->find(':') != std::string::npos || user->empty()) {
      reader.error(entry.first, path, "a user name must be non-empty and hold no ':'");
      continue;
    }
    // The hash is a secret too: it is never repeated in a message.
    const auto hash = entry.second.IsScalar() ? std::optional<std::string>(entry.second.Scalar()) : std::nullopt;
    const bool bcrypt = hash && hash->size() == 60 &&
                        (hash->rfind("$2y$", 0) == 0 || hash->rfind("$2b$", 0) == 0 || hash->rfind("$2a$", 0) == 0);
    if (!bcrypt) {
      reader.error(entry.second, path, "must be a bcrypt hash ($2y$, $2b$ or $2a$, 60 characters)");
      continue;
    }
    web.basic_auth_users.emplace(*user, Secret(*hash));
  }
}

}  // namespace

WebConfigResult parse_web_config(std::string_view yaml, const std::string& file, const ConfigOptions& options) {
  WebConfigResult result;
  ConfigReader reader(file, result.errors, options);
  const std::optional<YAML::Node> root = parse_yaml_document(yaml, reader);
  if (!root) return result;
  MapReader top(reader, *root, "");
  if (!top.valid()) return result;
  WebConfig web;
  web.source = file;
  web.tls = decode_tls_server(reader, top);
  decode_http_server(reader, top, web);
  decode_basic_auth_users(reader, top, web);
  const std::size_t errors_before_token = result.errors.size();
  top.read_secret("bearer_token", web.bearer_token);
  // An empty token (an unset variable's empty value, a secret file not filled yet) would
  // turn authentication off without a word.
  const bool token_read = top.has("bearer_token") || (top.has("bearer_token_file") && options.read_named_files);
  if (token_read && web.bearer_token.empty() && result.errors.size() == errors_before_token) {
    const std::string key = top.has("bearer_token") ? "bearer_token" : "bearer_token_file";
    reader.error(top.get(key), key, "the token is empty");
  }
  top.read("unauthenticated_paths", web.unauthenticated_paths);
  for (std::size_t i = 0; i < web.unauthenticated_paths.size(); ++i) {
    if (web.unauthenticated_paths[i].empty() || web.unauthenticated_paths[i].front() != '/') {
      reader.error(top.get("unauthenticated_paths")[i], indexed("unauthenticated_paths", i),
                   "must be a path starting with /");
    }
  }
  top.finish();
  if (result.errors.empty()) {
    result.config = std::move(web);
  } else {
    sort_by_position(result.errors);
  }
  return result;
}

WebConfigResult load_web_config_file(const std::string& path, const ConfigOptions& options) {
  std::string why;
  auto text = read_small_file(path, kMaxWebConfigBytes, why);
  if (!text) {
    WebConfigResult result;
    result.errors.push_back(ConfigError{path, 0, 0, "", why});
    return result;
  }
  return parse_web_config(*text, path, options);
}

}  // namespace assets
