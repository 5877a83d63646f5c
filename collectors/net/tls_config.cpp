#include "collectors/net/tls_config.h"

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "agent/config_reader.h"

namespace assets {
namespace {

const std::pair<std::string_view, TlsVersion> kTlsVersions[] = {{"", TlsVersion::any},
                                                                {"TLS1.0", TlsVersion::tls1_0},
                                                                {"TLS1.1", TlsVersion::tls1_1},
                                                                {"TLS1.2", TlsVersion::tls1_2},
                                                                {"TLS1.3", TlsVersion::tls1_3}};

}  // namespace

std::optional<TlsConfig> decode_tls(ConfigReader& reader, MapReader& parent) {
  const YAML::Node node = parent.get("tls");
  if (!node.IsDefined()) return std::nullopt;
  TlsConfig tls;
  MapReader map(reader, node, parent.path("tls"));
  map.read_path_of_regular_file("ca_file", tls.ca_file);
  map.read_path_of_regular_file("cert_file", tls.cert_file);
  map.read_path_of_regular_file("key_file", tls.key_file);
  map.read("server_name", tls.server_name);
  map.read("insecure_skip_verify", tls.insecure_skip_verify);
  map.read_one_of("min_version", tls.min_version, kTlsVersions);
  map.finish();
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    reader.error(node, map.path(tls.cert_file.empty() ? "cert_file" : "key_file"),
                 "cert_file and key_file must be given together");
  }
  return tls;
}

int openssl_min_version(TlsVersion version) {
  switch (version) {
    case TlsVersion::any: return 0;
    case TlsVersion::tls1_0: return TLS1_VERSION;
    case TlsVersion::tls1_1: return TLS1_1_VERSION;
    case TlsVersion::tls1_2: return TLS1_2_VERSION;
    case TlsVersion::tls1_3: return TLS1_3_VERSION;
  }
  return 0;
}

long curl_min_version(TlsVersion version) {
  switch (version) {
    case TlsVersion::any: return CURL_SSLVERSION_DEFAULT;
    case TlsVersion::tls1_0: return CURL_SSLVERSION_TLSv1_0;
    case TlsVersion::tls1_1: return CURL_SSLVERSION_TLSv1_1;
    case TlsVersion::tls1_2: return CURL_SSLVERSION_TLSv1_2;
    case TlsVersion::tls1_3: return CURL_SSLVERSION_TLSv1_3;
  }
  return CURL_SSLVERSION_DEFAULT;
}

}  // namespace assets
