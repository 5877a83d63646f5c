#include "collectors/health/config.h"

#include <algorithm>
#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <libpq-fe.h>

#include "agent/config_reader.h"
#include "agent/host_port.h"

namespace assets {
namespace {

constexpr std::uint64_t kMaxBodyFileBytes = 1 << 20;
// The highest of the max_* read limits: each is memory held per check while it is read.
constexpr std::uint64_t kMaxReadLimitBytes = 64 << 20;
// Added to the longest check timeout for the run as a whole, so that a check using all of
// its timeout does not make the collector's run overrun.
constexpr Duration kRunOverhead = std::chrono::seconds(1);

// The values a key may take; error messages list them from here.
using Choice = std::pair<std::string_view, std::string>;
const Choice kMethods[] = {{"GET", "GET"}, {"HEAD", "HEAD"}, {"POST", "POST"}, {"PUT", "PUT"},
                           {"PATCH", "PATCH"}, {"DELETE", "DELETE"}, {"OPTIONS", "OPTIONS"}};
const Choice kIpFamilies[] = {{"", ""}, {"ip4", "ip4"}, {"ip6", "ip6"}};
const Choice kSslModes[] = {{"disable", "disable"}, {"allow", "allow"},         {"prefer", "prefer"},
                            {"require", "require"}, {"verify-ca", "verify-ca"}, {"verify-full", "verify-full"}};
const std::pair<std::string_view, CheckKind> kCheckKinds[] = {
    {"http", CheckKind::http}, {"tcp", CheckKind::tcp}, {"postgres", CheckKind::postgres}, {"dns", CheckKind::dns}};
// The record types a dns check may ask for, with their codes (RFC 1035, 3596, 8659).
const std::pair<std::string_view, int> kDnsTypes[] = {{"A", 1},   {"NS", 2},   {"CNAME", 5}, {"SOA", 6},
                                                      {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"CAA", 257}};
const std::pair<std::string_view, int> kDnsRcodes[] = {{"NOERROR", 0}, {"FORMERR", 1}, {"SERVFAIL", 2}, {"NXDOMAIN", 3},
                                                       {"NOTIMP", 4},  {"REFUSED", 5}};
const std::pair<std::string_view, bool> kDnsTransports[] = {{"udp", false}, {"tcp", true}};

// Escape sequences in tcp send strings, so "PING\r\n" can be written in YAML.
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

HttpCheck decode_http(ConfigReader& reader, MapReader& map) {
  HttpCheck http;
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
  return http;
}

TcpCheck decode_tcp(ConfigReader& reader, MapReader& map) {
  TcpCheck tcp;
  map.require("address");
  if (map.read("address", tcp.address) && !split_host_port(tcp.address)) {
    reader.error(map.get("address"), map.path("address"), "must be host:port, not " + quote(tcp.address));
  }
  tcp.tls = decode_tls(reader, map);
  map.read("send", tcp.send);
  tcp.send = decode_escapes(tcp.send);
  map.read_regex("expect", tcp.expect);
  map.read_size("max_response_bytes", tcp.max_response_bytes, kMaxReadLimitBytes);
  return tcp;
}

bool is_domain_name(std::string_view name) {
  if (name == ".") return true;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = name.find('.', start);
    const std::size_t length = (dot == std::string_view::npos ? name.size() : dot) - start;
    if (length == 0 || length > 63) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

DnsRecordRules decode_record_rules(ConfigReader& reader, MapReader& check_map, std::string_view key) {
  DnsRecordRules rules;
  const YAML::Node node = check_map.get(key);
  if (!node.IsDefined()) return rules;
  MapReader map(reader, node, check_map.path(key));
  if (!map.valid()) return rules;
  map.read_regex_list("fail_if_matches_regexp", rules.fail_if_matches);
  map.read_regex_list("fail_if_all_match_regexp", rules.fail_if_all_match);
  map.read_regex_list("fail_if_not_matches_regexp", rules.fail_if_not_matches);
  map.read_regex_list("fail_if_none_matches_regexp", rules.fail_if_none_matches);
  map.finish();
  return rules;
}

DnsCheck decode_dns(ConfigReader& reader, MapReader& map) {
  DnsCheck dns;
  map.require("query_name");
  if (map.read("query_name", dns.query_name) && !is_domain_name(dns.query_name)) {
    reader.error(map.get("query_name"), map.path("query_name"),
                 "must be a domain name: labels of 1 to 63 characters joined by '.', 253 at most, not " +
                     quote(dns.query_name));
  }
  if (map.read_one_of("query_type", dns.query_type_code, kDnsTypes)) {
    for (const auto& [name, code] : kDnsTypes) {
      if (code == dns.query_type_code) dns.query_type = name;
    }
  }
  // An address, not a name: resolving the resolver would need a resolver.
  if (map.read("server", dns.server)) {
    const auto host_port = split_host_port(dns.server);
    in6_addr address{};
    if (!host_port || (inet_pton(AF_INET, host_port->host.c_str(), &address) != 1 &&
                       inet_pton(AF_INET6, host_port->host.c_str(), &address) != 1)) {
      reader.error(map.get("server"), map.path("server"),
                   "must be ip:port or [ipv6]:port, not " + quote(dns.server));
    }
  }
  map.read_one_of("transport", dns.tcp, kDnsTransports);
  map.read("recursion_desired", dns.recursion_desired);
  const YAML::Node rcodes = map.get("valid_rcodes");
  if (rcodes.IsDefined()) {
    std::vector<std::string> names;
    map.read("valid_rcodes", names);
    dns.valid_rcodes.clear();
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto found = std::find_if(std::begin(kDnsRcodes), std::end(kDnsRcodes),
                                      [&](const auto& rcode) { return rcode.first == names[i]; });
      if (found == std::end(kDnsRcodes)) {
        reader.error(rcodes[i], indexed(map.path("valid_rcodes"), i),
                     "must be one of NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, not " + quote(names[i]));
      } else {
        dns.valid_rcodes.push_back(found->second);
      }
    }
    if (names.empty()) reader.error(rcodes, map.path("valid_rcodes"), "must name at least one rcode");
  }
  dns.answer = decode_record_rules(reader, map, "validate_answer_rrs");
  dns.authority = decode_record_rules(reader, map, "validate_authority_rrs");
  dns.additional = decode_record_rules(reader, map, "validate_additional_rrs");
  return dns;
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

std::optional<PostgresAudit> decode_audit(ConfigReader& reader, MapReader& check_map) {
  const YAML::Node node = check_map.get("audit");
  if (!node.IsDefined()) return std::nullopt;
  if (node.IsScalar()) {
    bool enabled = false;
    check_map.read("audit", enabled);
    return enabled ? std::optional<PostgresAudit>(PostgresAudit{}) : std::nullopt;
  }
  MapReader map(reader, node, check_map.path("audit"));
  if (!map.valid()) return std::nullopt;
  PostgresAudit audit;
  map.read("app_roles", audit.app_roles);
  map.read_duration("password_expiry_warning", audit.password_expiry_warning);
  if (map.has("password_expiry_warning") && audit.password_expiry_warning.count() <= 0) {
    reader.error(map.get("password_expiry_warning"), map.path("password_expiry_warning"), "must be greater than 0");
  }
  map.finish();
  return audit;
}

PostgresCheck decode_postgres(ConfigReader& reader, MapReader& map) {
  PostgresCheck pg;
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
  pg.audit = decode_audit(reader, map);
  return pg;
}

}  // namespace

std::string_view to_string(CheckKind kind) {
  for (const auto& [name, value] : kCheckKinds) {
    if (value == kind) return name;
  }
  return "unknown";
}

std::shared_ptr<const HealthConfig> decode_health_section(const SectionInput& input) {
  ConfigReader& reader = input.reader;
  if (!input.node.IsSequence()) {
    reader.error(input.node, "health", "must be a list of checks");
    return nullptr;
  }
  auto section = std::make_shared<HealthConfig>();
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < input.node.size(); ++i) {
    MapReader map(reader, input.node[i], indexed("health", i));
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
    CheckKind kind = CheckKind::http;
    const bool has_kind = map.read_one_of("kind", kind, kCheckKinds);
    const Schedule schedule = read_schedule(reader, map, input.global);
    check.interval = schedule.interval;
    check.timeout = schedule.timeout;
    if (!has_kind) continue;  // the other keys depend on the kind
    switch (kind) {
      case CheckKind::http: check.probe = decode_http(reader, map); break;
      case CheckKind::tcp: check.probe = decode_tcp(reader, map); break;
      case CheckKind::postgres: check.probe = decode_postgres(reader, map); break;
      case CheckKind::dns: check.probe = decode_dns(reader, map); break;
    }
    map.finish();
    section->checks.push_back(std::move(check));
  }
  if (section->checks.empty()) return nullptr;
  // The driver runs the collector at the shortest check interval; the checks that are due
  // run side by side, so a run takes at most the longest check timeout.
  section->interval = Duration::max();
  for (const CheckConfig& check : section->checks) {
    section->interval = std::min(section->interval, check.interval);
    section->timeout = std::max(section->timeout, check.timeout);
  }
  section->timeout += kRunOverhead;
  return section;
}

}  // namespace assets
