#pragma once
// The client TLS settings shared by health checks and the Docker Engine connection: read
// once here, with min_version kept as the enum that OpenSSL and libcurl are set from.
#include <optional>
#include <string>

namespace assets {

class ConfigReader;
class MapReader;

enum class TlsVersion { any, tls1_0, tls1_1, tls1_2, tls1_3 };

struct TlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  bool insecure_skip_verify = false;
  TlsVersion min_version = TlsVersion::any;
  bool operator==(const TlsConfig&) const = default;
};

// The `tls` key of a section or check; nullopt when absent.
std::optional<TlsConfig> decode_tls(ConfigReader& reader, MapReader& parent);

// The protocol version constants of OpenSSL (SSL_CTX_set_min_proto_version) and of
// libcurl (CURLOPT_SSLVERSION); 0 / CURL_SSLVERSION_DEFAULT for `any`.
int openssl_min_version(TlsVersion version);
long curl_min_version(TlsVersion version);

}  // namespace assets
