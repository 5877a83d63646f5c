// Every rule about what a valid configuration is lives in this file.
#include "agent/config.h"

#include <algorithm>
#include <set>

#include <libpq-fe.h>
#include <unistd.h>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "agent/config_reader.h"
#include "agent/files.h"
#include "agent/host_port.h"
#include "agent/utf8.h"

namespace assets {
namespace {

constexpr std::uint64_t kMaxConfigBytes = 4 << 20;
constexpr std::uint64_t kMaxBodyFileBytes = 1 << 20;
// The highest of the max_* read limits: each is memory held per target while it is read.
constexpr std::uint64_t kMaxReadLimitBytes = 64 << 20;

// The values a key may take; error messages list them from here.
using Choice = std::pair<std::string_view, std::string>;
const Choice kTlsVersions[] = {{"", ""}, {"TLS1.0", "TLS1.0"}, {"TLS1.1", "TLS1.1"}, {"TLS1.2", "TLS1.2"}, {"TLS1.3", "TLS1.3"}};
const Choice kMethods[] = {{"GET", "GET"}, {"HEAD", "HEAD"}, {"POST", "POST"}, {"PUT", "PUT"},
                           {"PATCH", "PATCH"}, {"DELETE", "DELETE"}, {"OPTIONS", "OPTIONS"}};
const Choice kIpFamilies[] = {{"", ""}, {"ip4", "ip4"}, {"ip6", "ip6"}};
const Choice kSslModes[] = {{"disable", "disable"}, {"allow", "allow"},         {"prefer", "prefer"},
                            {"require", "require"}, {"verify-ca", "verify-ca"}, {"verify-full", "verify-full"}};
const std::pair<std::string_view, CheckKind> kCheckKinds[] = {
    {"http", CheckKind::http}, {"tcp", CheckKind::tcp}, {"postgres", CheckKind::postgres}};
const std::pair<std::string_view, BackupVerify> kBackupVerifyModes[] = {{"auto", BackupVerify::auto_detect},
                                                                       {"none", BackupVerify::none},
                                                                       {"plain", BackupVerify::plain},
                                                                       {"gzip", BackupVerify::gzip},
                                                                       {"custom", BackupVerify::custom}};

std::string indexed(const std::string& path, std::size_t index) { return path + "[" + std::to_string(index) + "]"; }

// Escape sequences in tcp send/expect strings, so "PING\r\n" can be written in YAML.
std::string decode_escapes(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      switch (text[++i]) {
        case 'r': out += '\r'; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case '\\': out += '\\'; break;
        default: out += '\\'; out += text[i]; break;
      }
    } else {
      out += text[i];
    }
  }
  return out;
}

void check_interval_and_timeout(ConfigReader& reader, MapReader& map, const Config& config, Duration interval,
                                Duration timeout) {
  const Duration effective_interval = config.interval_or_default(interval);
  const Duration effective_timeout = config.timeout_or_default(timeout);
  if (map.has("interval") && interval.count() <= 0) {
    reader.error(map.get("interval"), map.path("interval"), "must be greater than 0");
  }
  if (map.has("timeout") && timeout.count() <= 0) {
    reader.error(map.get("timeout"), map.path("timeout"), "must be greater than 0");
  } else if (effective_timeout >= effective_interval) {
    const YAML::Node where = map.has("timeout") ? map.get("timeout") : map.has("interval") ? map.get("interval") : map.node();
    reader.error(where, map.path("timeout"),
                 "must be shorter than interval (" + format_duration(effective_timeout) + " >= " +
                     format_duration(effective_interval) + ")");
  }
}

void decode_global(ConfigReader& reader, const YAML::Node& node, GlobalConfig& global) {
  MapReader map(reader, node, "global");
  map.read_duration("interval", global.interval);
  map.read_duration("timeout", global.timeout);
  map.read("max_parallel", global.max_parallel, 1, 256);
  map.finish();
  if (!map.valid()) return;
  if (global.interval.count() <= 0) reader.error(map.get("interval"), "global.interval", "must be greater than 0");
  if (global.timeout.count() <= 0) {
    reader.error(map.get("timeout"), "global.timeout", "must be greater than 0");
  } else if (global.timeout >= global.interval) {
    reader.error(map.has("timeout") ? map.get("timeout") : node, "global.timeout",
                 "must be shorter than interval (" + format_duration(global.timeout) + " >= " +
                     format_duration(global.interval) + ")");
  }
}

// TLS files are read at run time by libcurl or OpenSSL, which open them blocking: a
// missing file, or a FIFO that would hold a check forever, is caught here instead.
void check_tls_file(ConfigReader& reader, MapReader& map, std::string_view key, const std::string& file) {
  if (file.empty() || !reader.options().read_named_files) return;
  FileReadError failure;
  const int fd = open_regular_file(file, failure);
  if (fd >= 0) {
    close(fd);
  } else {
    reader.error(map.get(key), map.path(key), failure.message);
  }
}

std::optional<TlsConfig> decode_tls(ConfigReader& reader, MapReader& parent) {
  const YAML::Node node = parent.get("tls");
  if (!node.IsDefined()) return std::nullopt;
  TlsConfig tls;
  MapReader map(reader, node, parent.path("tls"));
  map.read("ca_file", tls.ca_file);
  map.read("cert_file", tls.cert_file);
  map.read("key_file", tls.key_file);
  map.read("server_name", tls.server_name);
  map.read("insecure_skip_verify", tls.insecure_skip_verify);
  map.read_one_of("min_version", tls.min_version, kTlsVersions);
  map.finish();
  check_tls_file(reader, map, "ca_file", tls.ca_file);
  check_tls_file(reader, map, "cert_file", tls.cert_file);
  check_tls_file(reader, map, "key_file", tls.key_file);
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    reader.error(node, map.path(tls.cert_file.empty() ? "cert_file" : "key_file"),
                 "cert_file and key_file must be given together");
  }
  return tls;
}

std::optional<StatusRange> parse_status_range(const std::string& text) {
  const auto dash = text.find('-');
  try {
    std::size_t used = 0;
    StatusRange range;
    if (dash == std::string::npos) {
      range.low = range.high = std::stoi(text, &used);
      if (used != text.size()) return std::nullopt;
    } else {
      const std::string low = text.substr(0, dash);
      const std::string high = text.substr(dash + 1);
      range.low = std::stoi(low, &used);
      if (used != low.size()) return std::nullopt;
      range.high = std::stoi(high, &used);
      if (used != high.size()) return std::nullopt;
    }
    if (range.low < 100 || range.high > 599 || range.low > range.high) return std::nullopt;
    return range;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<HeaderMatch> decode_header_matches(ConfigReader& reader, MapReader& parent, std::string_view key) {
  std::vector<HeaderMatch> matches;
  const YAML::Node node = parent.get(key);
  if (!node.IsDefined()) return matches;
  if (!node.IsSequence()) {
    reader.error(node, parent.path(key), "must be a list of {header, regexp}");
    return matches;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    MapReader map(reader, node[i], indexed(parent.path(key), i));
    HeaderMatch match;
    map.require("header");
    map.require("regexp");
    map.read("header", match.header);
    map.read_regex("regexp", match.regex);
    map.read("allow_missing", match.allow_missing);
    map.finish();
    matches.push_back(std::move(match));
  }
  return matches;
}

void decode_http(ConfigReader& reader, MapReader& map, HttpCheck& http) {
  map.require("url");
  const std::size_t errors_before = reader.error_count();
  map.read("url", http.url);
  if (map.has("url") && reader.error_count() == errors_before && http.url.rfind("http://", 0) != 0 &&
      http.url.rfind("https://", 0) != 0) {
    reader.error(map.get("url"), map.path("url"), "must start with http:// or https://");
  }
  map.read_one_of("method", http.method, kMethods);
  map.read("headers", http.headers);
  if (map.has("body") && map.has("body_file")) {
    reader.error(map.get("body_file"), map.path("body_file"), "give either body or body_file, not both");
  }
  map.read("body", http.body);
  map.read_file_contents("body_file", http.body, kMaxBodyFileBytes);
  const YAML::Node codes = map.get("valid_status_codes");
  if (codes.IsDefined()) {
    std::vector<std::string> texts;
    map.read("valid_status_codes", texts);
    http.valid_status_codes.clear();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (auto range = parse_status_range(texts[i])) {
        http.valid_status_codes.push_back(*range);
      } else {
        reader.error(codes[i], indexed(map.path("valid_status_codes"), i),
                     "not a status code or range (examples: 200, 200-399): " + quote(texts[i]));
      }
    }
  }
  map.read_regex_list("fail_if_body_matches", http.fail_if_body_matches);
  map.read_regex_list("fail_if_body_not_matches", http.fail_if_body_not_matches);
  http.fail_if_header_matches = decode_header_matches(reader, map, "fail_if_header_matches");
  http.fail_if_header_not_matches = decode_header_matches(reader, map, "fail_if_header_not_matches");
  map.read("follow_redirects", http.follow_redirects);
  map.read("max_redirects", http.max_redirects, 0, 50);
  map.read_size("max_body_bytes", http.max_body_bytes, kMaxReadLimitBytes);
  http.tls = decode_tls(reader, map);
  if (const YAML::Node auth = map.get("basic_auth"); auth.IsDefined()) {
    MapReader auth_map(reader, auth, map.path("basic_auth"));
    BasicAuth basic;
    auth_map.read_secret("username", basic.username);
    auth_map.read_secret("password", basic.password);
    auth_map.finish();
    if (auth_map.valid() && !auth_map.has("username") && !auth_map.has("username_file")) {
      reader.error(auth, auth_map.path("username"), "is required");
    }
    http.basic_auth = std::move(basic);
  }
  map.read_secret("bearer_token", http.bearer_token);
  if (http.basic_auth && (map.has("bearer_token") || map.has("bearer_token_file"))) {
    reader.error(map.get("basic_auth"), map.path("basic_auth"), "give either basic_auth or bearer_token, not both");
  }
  map.read_one_of("ip_family", http.ip_family, kIpFamilies);
}

void decode_tcp(ConfigReader& reader, MapReader& map, TcpCheck& tcp) {
  map.require("address");
  if (map.read("address", tcp.address) && !split_host_port(tcp.address)) {
    reader.error(map.get("address"), map.path("address"), "must be host:port, not " + quote(tcp.address));
  }
  tcp.tls = decode_tls(reader, map);
  map.read("send", tcp.send);
  tcp.send = decode_escapes(tcp.send);
  map.read_regex("expect", tcp.expect);
  map.read_size("max_response_bytes", tcp.max_response_bytes, kMaxReadLimitBytes);
}

// Parsed by libpq itself, so what passes here connects the same way at run time. The dsn is
// never repeated in the message: a malformed one may hold a password.
std::optional<std::string> dsn_problem(const std::string& dsn) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &parse_error);
  if (options == nullptr) {
    std::string why = parse_error != nullptr ? parse_error : "out of memory";
    PQfreemem(parse_error);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return "libpq cannot parse it: " + why.substr(0, why.find('\n'));
  }
  bool has_password = false;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val != nullptr && std::string_view(option->keyword) == "password") has_password = true;
  }
  PQconninfoFree(options);
  if (has_password || dsn.find("password") != std::string::npos) return "must not contain a password; use password_file";
  return std::nullopt;
}

void decode_postgres(ConfigReader& reader, MapReader& map, PostgresCheck& pg) {
  map.read("dsn", pg.dsn);
  if (map.has("dsn")) {
    for (const char* key : {"host", "port", "user", "dbname"}) {
      if (map.has(key)) reader.error(map.get(key), map.path(key), "give either dsn or host/port/user/dbname, not both");
    }
    if (auto problem = dsn_problem(pg.dsn)) reader.error(map.get("dsn"), map.path("dsn"), *problem);
  }
  map.read("host", pg.host);
  map.read("port", pg.port, 1, 65535);
  map.read("user", pg.user);
  map.read("dbname", pg.dbname);
  map.read_secret("password", pg.password);
  map.read_one_of("sslmode", pg.sslmode, kSslModes);
  map.read("databases", pg.databases);
}

void decode_health(ConfigReader& reader, const YAML::Node& node, Config& config) {
  if (!node.IsSequence()) {
    reader.error(node, "health", "must be a list of checks");
    return;
  }
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string path = indexed("health", i);
    MapReader map(reader, node[i], path);
    if (!map.valid()) continue;
    CheckConfig check;
    map.require("name");
    if (map.read("name", check.name) && check.name.empty()) {
      reader.error(map.get("name"), map.path("name"), "must not be empty");
    }
    if (!check.name.empty() && !names.insert(check.name).second) {
      reader.error(map.get("name"), map.path("name"), "duplicate check name " + quote(check.name));
    }
    map.require("kind");
    const bool has_kind = map.read_one_of("kind", check.kind, kCheckKinds);
    map.read_duration("interval", check.interval);
    map.read_duration("timeout", check.timeout);
    check_interval_and_timeout(reader, map, config, check.interval, check.timeout);
    if (!has_kind) continue;  // the other keys depend on the kind
    switch (check.kind) {
      case CheckKind::http: decode_http(reader, map, check.http); break;
      case CheckKind::tcp: decode_tcp(reader, map, check.tcp); break;
      case CheckKind::postgres: decode_postgres(reader, map, check.postgres); break;
    }
    map.finish();
    config.health.push_back(std::move(check));
  }
}

void decode_containers(ConfigReader& reader, const YAML::Node& node, Config& config) {
  ContainersConfig& containers = config.containers;
  containers.enabled = true;
  if (node.IsNull()) return;  // `containers:` alone enables the defaults
  MapReader map(reader, node, "containers");
  map.read("enabled", containers.enabled);
  map.read_duration("interval", containers.interval);
  map.read_duration("timeout", containers.timeout);
  map.read("socket", containers.socket);
  map.read("host", containers.host);
  if (!containers.host.empty() && containers.host.rfind("tcp://", 0) != 0) {
    reader.error(map.get("host"), map.path("host"), "must start with tcp://");
  }
  if (map.has("socket") && map.has("host")) {
    reader.error(map.get("host"), map.path("host"), "give either socket or host, not both");
  }
  containers.tls = decode_tls(reader, map);
  map.read_regex_list("include", containers.include);
  map.read_regex_list("exclude", containers.exclude);
  map.read("include_labels", containers.include_labels);
  map.read("exclude_labels", containers.exclude_labels);
  map.read("expected_services", containers.expected_services);
  map.read("max_containers", containers.max_containers, 1, 100000);
  map.read("max_parallel_inspects", containers.max_parallel_inspects, 1, 64);
  map.read_duration("resync_interval", containers.resync_interval);
  check_interval_and_timeout(reader, map, config, containers.interval, containers.timeout);
  map.finish();
}

// A backup set's `timestamp`: "mtime", or a file-name pattern with %Y %m %d [%H %M %S]
// or %s (each at most once), %%, and the wildcards * and ?. Returns what is wrong, or "".
std::string timestamp_pattern_problem(const std::string& pattern) {
  if (pattern == "mtime") return {};
  std::string seen;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    if (++i == pattern.size()) return "ends with a lone %";
    const char conversion = pattern[i];
    if (conversion == '%') continue;
    if (std::string_view("YmdHMSs").find(conversion) == std::string_view::npos) {
      return std::string("unknown conversion %") + conversion + " (known: %Y %m %d %H %M %S %s %%)";
    }
    if (seen.find(conversion) != std::string::npos) return std::string("conversion %") + conversion + " given twice";
    seen += conversion;
  }
  const bool has_date = seen.find('Y') != std::string::npos && seen.find('m') != std::string::npos &&
                        seen.find('d') != std::string::npos;
  if (seen == "s" || (has_date && seen.find('s') == std::string::npos)) return {};
  if (seen.find('s') != std::string::npos) return "%s cannot be combined with other conversions";
  return "must be \"mtime\" or a file-name pattern with %Y, %m and %d (or %s)";
}

void decode_backups(ConfigReader& reader, const YAML::Node& node, Config& config) {
  if (!node.IsSequence()) {
    reader.error(node, "backups", "must be a list of backup sets");
    return;
  }
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    MapReader map(reader, node[i], indexed("backups", i));
    if (!map.valid()) continue;
    BackupSetConfig set;
    map.require("name");
    map.require("path");
    if (map.read("name", set.name) && set.name.empty()) {
      reader.error(map.get("name"), map.path("name"), "must not be empty");
    }
    if (!set.name.empty() && !names.insert(set.name).second) {
      reader.error(map.get("name"), map.path("name"), "duplicate backup set name " + quote(set.name));
    }
    if (map.read("path", set.path) && set.path.empty()) {
      reader.error(map.get("path"), map.path("path"), "must not be empty");
    }
    map.read("pattern", set.pattern);
    map.read("recursive", set.recursive);
    map.read("timestamp", set.timestamp);
    if (const std::string problem = timestamp_pattern_problem(set.timestamp); !problem.empty()) {
      reader.error(map.get("timestamp"), map.path("timestamp"), problem);
    }
    map.read_duration("max_age", set.max_age);
    map.read_size("min_size", set.min_size);
    map.read_duration("retention", set.retention);
    map.read_duration("settle", set.settle);
    map.read_one_of("verify", set.verify, kBackupVerifyModes);
    map.read("pg_restore", set.pg_restore);
    if (const YAML::Node restore = map.get("restore_test"); restore.IsDefined()) {
      MapReader restore_map(reader, restore, map.path("restore_test"));
      RestoreTestConfig test;
      restore_map.require("status_file");
      restore_map.read("status_file", test.status_file);
      restore_map.read_duration("max_age", test.max_age);
      restore_map.finish();
      set.restore_test = std::move(test);
    }
    map.read_duration("interval", set.interval);
    map.read_duration("timeout", set.timeout);
    check_interval_and_timeout(reader, map, config, set.interval, set.timeout);
    if (set.retention.count() > 0 && set.max_age > set.retention) {
      reader.error(map.get("retention"), map.path("retention"), "must not be shorter than max_age");
    }
    map.finish();
    config.backups.push_back(std::move(set));
  }
}

void decode_certificates(ConfigReader& reader, const YAML::Node& node, Config& config) {
  CertificatesConfig& certs = config.certificates;
  certs.enabled = true;
  if (node.IsNull()) return;  // `certificates:` alone enables the defaults
  MapReader map(reader, node, "certificates");
  if (!map.valid()) return;
  map.read("enabled", certs.enabled);
  map.read_duration("interval", certs.interval);
  map.read_duration("timeout", certs.timeout);
  map.read("files", certs.files);
  map.read("exclude", certs.exclude);
  map.read_duration("expiry_warning", certs.expiry_warning);
  map.read_duration("expiry_critical", certs.expiry_critical);
  map.read_size("max_file_bytes", certs.max_file_bytes, kMaxReadLimitBytes);
  map.read("max_parallel", certs.max_parallel, 1, 256);
  if (certs.expiry_critical > certs.expiry_warning) {
    reader.error(map.get("expiry_critical"), map.path("expiry_critical"), "must not be longer than expiry_warning");
  }
  check_interval_and_timeout(reader, map, config, certs.interval, certs.timeout);
  if (const YAML::Node endpoints = map.get("endpoints"); endpoints.IsDefined()) {
    if (!endpoints.IsSequence()) {
      reader.error(endpoints, map.path("endpoints"), "must be a list of endpoints");
    } else {
      std::set<std::string, std::less<>> addresses;
      for (std::size_t i = 0; i < endpoints.size(); ++i) {
        MapReader endpoint_map(reader, endpoints[i], indexed(map.path("endpoints"), i));
        if (!endpoint_map.valid()) continue;
        CertEndpointConfig endpoint;
        endpoint_map.require("address");
        const bool has_address = endpoint_map.read("address", endpoint.address);
        if (has_address && !split_host_port(endpoint.address)) {
          reader.error(endpoint_map.get("address"), endpoint_map.path("address"),
                       "must be host:port, not " + quote(endpoint.address));
        } else if (!endpoint.address.empty() && !addresses.insert(endpoint.address).second) {
          reader.error(endpoint_map.get("address"), endpoint_map.path("address"),
                       "duplicate endpoint " + quote(endpoint.address));
        }
        endpoint_map.read("server_name", endpoint.server_name);
        endpoint_map.read_duration("timeout", endpoint.timeout);
        endpoint_map.read("ca_file", endpoint.ca_file);
        check_tls_file(reader, endpoint_map, "ca_file", endpoint.ca_file);
        if (endpoint_map.has("expiry_warning")) {
          Duration warning{};
          endpoint_map.read_duration("expiry_warning", warning);
          endpoint.expiry_warning = warning;
        }
        if (endpoint_map.has("expiry_critical")) {
          Duration critical{};
          endpoint_map.read_duration("expiry_critical", critical);
          endpoint.expiry_critical = critical;
        }
        const Duration section_timeout = config.timeout_or_default(certs.timeout);
        if (endpoint.timeout > section_timeout) {
          reader.error(endpoint_map.get("timeout"), endpoint_map.path("timeout"),
                       "must not be longer than the section's timeout (" + format_duration(section_timeout) + ")");
        }
        endpoint_map.finish();
        certs.endpoints.push_back(std::move(endpoint));
      }
    }
  }
  map.finish();
}

}  // namespace

std::string_view to_string(CheckKind kind) {
  for (const auto& [name, value] : kCheckKinds) {
    if (value == kind) return name;
  }
  return "unknown";
}

ConfigResult parse_config(std::string_view yaml, const std::string& file, const ConfigOptions& options) {
  ConfigResult result;
  ConfigReader reader(file, result.errors, options);
  // Label values come from here (check and set names): one byte that is not UTF-8 would
  // make Prometheus reject every sample of a scrape.
  if (const auto invalid = first_invalid_utf8(yaml)) {
    YAML::Mark mark;
    const std::string_view before = yaml.substr(0, *invalid);
    mark.line = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    const auto line_start = before.rfind('\n');
    mark.column = static_cast<int>(line_start == std::string_view::npos ? *invalid : *invalid - line_start - 1);
    reader.error(mark, "", "not valid UTF-8");
    return result;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::DeepRecursion& e) {
    reader.error(e.mark, "", "invalid YAML: nested deeper than " + std::to_string(e.depth()) + " levels");
    return result;
  } catch (const YAML::ParserException& e) {
    reader.error(e.mark, "", "invalid YAML: " + e.msg);
    return result;
  }
  Config config;
  config.source = file;
  if (root.IsNull()) {
    reader.error(YAML::Mark::null_mark(), "", "the configuration is empty");
    return result;
  }
  MapReader top(reader, root, "");
  if (!top.valid()) return result;
  // global first: the sections' defaults and checks depend on it.
  if (const YAML::Node global = top.get("global"); global.IsDefined()) decode_global(reader, global, config.global);
  if (const YAML::Node health = top.get("health"); health.IsDefined()) decode_health(reader, health, config);
  if (const YAML::Node containers = top.get("containers"); containers.IsDefined()) decode_containers(reader, containers, config);
  if (const YAML::Node backups = top.get("backups"); backups.IsDefined()) decode_backups(reader, backups, config);
  if (const YAML::Node certs = top.get("certificates"); certs.IsDefined()) decode_certificates(reader, certs, config);
  top.finish();
  if (result.errors.empty()) {
    result.config = std::move(config);
  } else {
    std::stable_sort(result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
  }
  return result;
}

ConfigResult load_config_file(const std::string& path, const ConfigOptions& options) {
  std::string why;
  auto text = read_small_file(path, kMaxConfigBytes, why);
  if (!text) {
    ConfigResult result;
    result.errors.push_back(ConfigError{path, 0, 0, "", why});
    return result;
  }
  return parse_config(*text, path, options);
}

ConfigResult load_default_config() { return parse_config(embedded_default_config(), "<embedded default>"); }

}  // namespace assets
