#pragma once
// The health collector's section: a list of http, tcp, postgres and dns checks. Decoded and
// validated once; regular expressions are kept compiled.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/collector.h"
#include "agent/regex.h"
#include "agent/secret.h"
#include "collectors/net/tls_config.h"

namespace assets {

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
  std::string header;  // as written; compared without regard to case
  Regex regex;
  bool allow_missing = false;
  bool operator==(const HeaderMatch&) const = default;
};

struct HttpCheck {
  std::string url;
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  std::string body;  // body_file is read into body at load time
  std::vector<StatusRange> valid_status_codes{StatusRange{}};
  std::vector<Regex> fail_if_body_matches;
  std::vector<Regex> fail_if_body_not_matches;
  std::vector<HeaderMatch> fail_if_header_matches;
  std::vector<HeaderMatch> fail_if_header_not_matches;
  bool follow_redirects = true;
  int max_redirects = 10;
  std::uint64_t max_body_bytes = 1 << 20;
  std::optional<TlsConfig> tls;
  std::optional<BasicAuth> basic_auth;
  Secret bearer_token;    // from bearer_token or bearer_token_file
  std::string ip_family;  // "", "ip4", "ip6"
  bool operator==(const HttpCheck&) const = default;
};

struct TcpCheck {
  std::string address;  // host:port
  std::optional<TlsConfig> tls;
  std::string send;  // escape sequences \r \n \t \\ already decoded
  Regex expect;      // matched against what the peer sends; empty: connect only
  std::uint64_t max_response_bytes = 64 << 10;
  bool operator==(const TcpCheck&) const = default;
};

// The least-privilege audit of a postgres check (`audit: true` or a map): every login
// role's attributes from pg_roles, which any role may read.
struct PostgresAudit {
  std::vector<std::string> app_roles;  // the application's roles: they must hold no attribute
  Duration password_expiry_warning = 14 * std::chrono::hours(24);
  bool operator==(const PostgresAudit&) const = default;
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
  std::optional<PostgresAudit> audit;
  bool operator==(const PostgresCheck&) const = default;
};

// blackbox_exporter's validate_*_rrs: regexes on the records of one section, each record
// in its text form (`name. ttl IN TYPE data`).
struct DnsRecordRules {
  // Each regex on its own, as in blackbox_exporter: fails when
  std::vector<Regex> fail_if_matches;       // any record matches it
  std::vector<Regex> fail_if_all_match;     // every record matches it (and there is one)
  std::vector<Regex> fail_if_not_matches;   // any record does not match it
  std::vector<Regex> fail_if_none_matches;  // no record matches it
  bool operator==(const DnsRecordRules&) const = default;
};

struct DnsCheck {
  std::string query_name;
  std::string query_type = "A";
  int query_type_code = 1;  // compiled from query_type
  std::string server;       // ip:port; empty: the system's resolvers (/etc/resolv.conf)
  bool tcp = false;         // transport tcp; udp falls back to TCP on a truncated answer
  bool recursion_desired = true;
  std::vector<int> valid_rcodes{0};  // NOERROR
  DnsRecordRules answer, authority, additional;
  bool operator==(const DnsCheck&) const = default;
};

// In the order of the alternatives of CheckConfig::probe.
enum class CheckKind { http, tcp, postgres, dns };
std::string_view to_string(CheckKind kind);

struct CheckConfig {
  std::string name;
  Duration interval{};  // global's where the check gives none
  Duration timeout{};
  std::variant<HttpCheck, TcpCheck, PostgresCheck, DnsCheck> probe;

  CheckKind kind() const { return static_cast<CheckKind>(probe.index()); }
  bool operator==(const CheckConfig&) const = default;
};

struct HealthConfig : CollectorSection {
  std::vector<CheckConfig> checks;
  bool operator==(const HealthConfig&) const = default;
};

// nullptr for an empty list.
std::shared_ptr<const HealthConfig> decode_health_section(const SectionInput& input);

}  // namespace assets
