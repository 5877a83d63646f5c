#pragma once
// What one run of one health check produces, shared by the http, tcp, postgres and dns probes
// and the collector that turns results into metrics.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/reason.h"

namespace assets::health {

using Clock = std::chrono::steady_clock;

// The bounded values of assets_check_failure's reason label: the shared ones
// (timeout, refused, dns, tls, protocol, other) and the health checks' own.
namespace reason {
using namespace assets::reason;
inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kBody = "body";
inline constexpr std::string_view kAuth = "auth";
}  // namespace reason

// Seconds spent in each phase of an HTTP request (libcurl's timing info, see http.h).
struct PhaseDurations {
  double resolve = 0;
  double connect = 0;
  double tls = 0;
  double processing = 0;
  double transfer = 0;
};

struct HttpFacts {
  long status_code = 0;  // 0: no response
  std::uint64_t response_bytes = 0;
  long redirects = 0;
  PhaseDurations phases;
};

// What a dns check's answer held (see dns.h).
struct DnsFacts {
  int rcode = 0;
  std::size_t answer_records = 0;
  std::size_t authority_records = 0;
  std::size_t additional_records = 0;
};

// A login role as pg_roles shows it, for the least-privilege audit.
struct PostgresRole {
  std::string name;
  std::string_view role_class;  // "agent" (the check's own role), "application" (app_roles) or "other"
  bool superuser = false;
  bool createrole = false;
  bool createdb = false;
  bool replication = false;
  bool bypassrls = false;
  bool member_of_privileged = false;  // may SET ROLE to a role with one of these, or pg_*_server_*
  std::optional<double> valid_until;  // rolvaliduntil, Unix seconds; absent when unset or infinity
};

struct PostgresFacts {
  std::string server_version;
  bool in_recovery = false;
  double connections = 0;
  double max_connections = 0;
  bool sees_all_sessions = false;  // the role may read every session in pg_stat_activity
  std::vector<std::pair<std::string, double>> database_sizes;  // configured databases that exist
  std::optional<std::vector<PostgresRole>> roles;               // with `audit`: every login role
  bool roles_truncated = false;                                 // more login roles than kMaxAuditedRoles
  double password_expiry_warning_seconds = 0;                   // the audit's policy
};

struct CheckResult {
  bool up = false;
  std::string reason;  // one of health::reason; empty when up
  std::string detail;  // for the debug log and status page; sanitized, never a secret
  double duration_seconds = 0;
  std::optional<HttpFacts> http;          // http checks that got as far as a request
  std::optional<PostgresFacts> postgres;  // postgres checks that succeeded
  std::optional<DnsFacts> dns;            // dns checks that got an answer
};

CheckResult failed(std::string_view reason, std::string detail);

// Longest detail kept; error texts of libraries can be long.
inline constexpr std::size_t kMaxDetailLength = 400;

// Replaces every occurrence of each non-empty secret with Secret::kMask, folds the text to
// one line and bounds its length. Every detail passes through here before it is stored.
std::string sanitize_detail(std::string_view text, std::span<const std::string_view> secrets);

double seconds_between(Clock::time_point from, Clock::time_point to);

}  // namespace assets::health
