#pragma once
// The agent's configuration: plain data with defaults in the structs. Loading and all
// validation live in config.cpp; nothing else checks a config value.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/secret.h"
#include "agent/units.h"

namespace assets {

using namespace std::chrono_literals;

struct GlobalConfig {
  Duration interval = 30s;
  Duration timeout = 10s;
  int max_parallel = 8;
  bool operator==(const GlobalConfig&) const = default;
};

struct TlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  bool insecure_skip_verify = false;
  std::string min_version;  // "", "TLS1.0" .. "TLS1.3"
  bool operator==(const TlsConfig&) const = default;
};

struct BasicAuth {
  Secret username;
  Secret password;
  bool operator==(const BasicAuth&) const = default;
};

struct StatusRange {
  int low = 200;
  int high = 299;
  bool operator==(const StatusRange&) const = default;
};

struct HeaderMatch {
  std::string header;
  std::string regex;
  bool allow_missing = false;
  bool operator==(const HeaderMatch&) const = default;
};

struct HttpCheck {
  std::string url;
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  std::string body;  // body_file is read into body at load time
  std::vector<StatusRange> valid_status_codes{StatusRange{}};
  std::vector<std::string> fail_if_body_matches;
  std::vector<std::string> fail_if_body_not_matches;
  std::vector<HeaderMatch> fail_if_header_matches;
  std::vector<HeaderMatch> fail_if_header_not_matches;
  bool follow_redirects = true;
  int max_redirects = 10;
  std::uint64_t max_body_bytes = 1 << 20;
  std::optional<TlsConfig> tls;
  std::optional<BasicAuth> basic_auth;
  Secret bearer_token;  // from bearer_token or bearer_token_file
  std::string ip_family;  // "", "ip4", "ip6"
  bool operator==(const HttpCheck&) const = default;
};

struct TcpCheck {
  std::string address;  // host:port
  std::optional<TlsConfig> tls;
  std::string send;    // escape sequences \r \n \t \\ already decoded
  std::string expect;  // regex matched against what the peer sends
  std::uint64_t max_response_bytes = 64 << 10;
  bool operator==(const TcpCheck&) const = default;
};

struct PostgresCheck {
  std::string dsn;  // libpq keyword/value string or URI, without the password
  std::string host = "127.0.0.1";
  int port = 5432;
  std::string user = "postgres";
  std::string dbname = "postgres";
  Secret password;
  std::string sslmode = "prefer";
  std::vector<std::string> databases;  // report sizes of these
  bool operator==(const PostgresCheck&) const = default;
};

enum class CheckKind { http, tcp, postgres };

struct CheckConfig {
  std::string name;
  CheckKind kind = CheckKind::http;
  Duration interval{0};  // 0: global.interval
  Duration timeout{0};   // 0: global.timeout
  HttpCheck http;
  TcpCheck tcp;
  PostgresCheck postgres;
  bool operator==(const CheckConfig&) const = default;
};

struct ContainersConfig {
  bool enabled = false;  // set when the section is present
  Duration interval{0};
  Duration timeout{0};
  std::string socket = "/var/run/docker.sock";
  std::string host;  // tcp://host:port; empty: use socket
  std::optional<TlsConfig> tls;
  std::vector<std::string> include;  // container name regexes
  std::vector<std::string> exclude;
  std::map<std::string, std::string> include_labels;  // label = value (all must match)
  std::map<std::string, std::string> exclude_labels;
  std::vector<std::string> expected_services;
  int max_containers = 500;
  int max_parallel_inspects = 4;
  Duration resync_interval = 5min;
  bool operator==(const ContainersConfig&) const = default;
};

struct RestoreTestConfig {
  std::string status_file;
  Duration max_age = 92 * 24h;
  bool operator==(const RestoreTestConfig&) const = default;
};

enum class BackupVerify { auto_detect, none, plain, gzip, custom };

struct BackupSetConfig {
  std::string name;
  std::string path;
  std::string pattern = "*";
  bool recursive = false;
  std::string timestamp = "mtime";  // or a strftime-like pattern matched against the file name
  Duration max_age = 26h;
  std::uint64_t min_size = 1024;
  Duration retention = 30 * 24h;
  Duration settle = 60s;
  BackupVerify verify = BackupVerify::auto_detect;
  std::string pg_restore;  // path of pg_restore to list custom dumps with; empty: parse the TOC
  std::optional<RestoreTestConfig> restore_test;
  Duration interval{0};
  Duration timeout{0};
  bool operator==(const BackupSetConfig&) const = default;
};

struct CertEndpointConfig {
  std::string address;  // host:port as written
  std::string server_name;  // default: the host part of address
  Duration timeout{0};      // 0: the section's timeout
  std::string ca_file;
  std::optional<Duration> expiry_warning;
  std::optional<Duration> expiry_critical;
  bool operator==(const CertEndpointConfig&) const = default;
};

struct CertificatesConfig {
  bool enabled = false;  // set when the section is present
  Duration interval{0};
  Duration timeout{0};
  std::vector<std::string> files;    // globs, "**" allowed
  std::vector<std::string> exclude;  // globs
  std::vector<CertEndpointConfig> endpoints;
  Duration expiry_warning = 21 * 24h;
  Duration expiry_critical = 7 * 24h;
  std::uint64_t max_file_bytes = 1 << 20;
  int max_parallel = 16;
  bool operator==(const CertificatesConfig&) const = default;
};

struct Config {
  std::string source;  // file path, or "<embedded default>"
  GlobalConfig global;
  std::vector<CheckConfig> health;
  ContainersConfig containers;
  std::vector<BackupSetConfig> backups;
  CertificatesConfig certificates;

  Duration interval_or_default(Duration d) const { return d.count() == 0 ? global.interval : d; }
  Duration timeout_or_default(Duration d) const { return d.count() == 0 ? global.timeout : d; }
};

std::string_view to_string(CheckKind kind);

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when the error has no position
  int column = 0;  // 1-based
  std::string path;  // e.g. health[2].timeout
  std::string message;

  std::string to_string() const;  // file:line:column: path: message
};

struct ConfigResult {
  std::optional<Config> config;
  std::vector<ConfigError> errors;  // every error found, in document order
};

struct ConfigOptions {
  // false: the files the configuration names (secrets, body_file, TLS files) are neither
  // read nor checked, so an example for another host validates (`config check --syntax-only`).
  bool read_named_files = true;
};

// Parses and validates YAML text. `file` names the source in errors.
ConfigResult parse_config(std::string_view yaml, const std::string& file, const ConfigOptions& options = {});
// Reads the file (with a size limit) and parses it.
ConfigResult load_config_file(const std::string& path, const ConfigOptions& options = {});
// The configuration used when no --config.file is given.
std::string_view embedded_default_config();
ConfigResult load_default_config();

}  // namespace assets
