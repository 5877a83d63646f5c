#pragma once
// PostgreSQL checks with libpq. A connection that worked is kept for the next run and
// re-validated by that run's queries; when it turns out dead (the server restarted) the
// run reconnects at once, and any failure drops it. So every run reports what the server
// is doing now, never what a stale connection remembers.
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/health/config.h"
#include "collectors/health/check.h"

struct pg_conn;

namespace assets::health {

// The reason label for a libpq error text. Connection errors carry the server's SQLSTATE
// (the probe asks for verbose errors), which is language independent; libpq's own client
// side messages are English in the agent's C locale.
std::string_view classify_postgres_error(std::string_view message);

// A text[] literal for a query parameter: {"a","b\"c"}.
std::string postgres_text_array(const std::vector<std::string>& values);

// The libpq connection parameters of a check, password excluded, from `dsn` (keyword/value
// string or URI) or from host/port/user/dbname. nullopt and `error` set for an invalid dsn.
using ConnectionParameters = std::vector<std::pair<std::string, std::string>>;
std::optional<ConnectionParameters> connection_parameters(const PostgresCheck& check, Duration timeout,
                                                          std::string& error);

// Login roles reported by one audited check at most: bounds its series.
inline constexpr std::size_t kMaxAuditedRoles = 500;

class PostgresProbe {
 public:
  PostgresProbe(const PostgresCheck& config, Duration timeout);
  ~PostgresProbe();
  PostgresProbe(const PostgresProbe&) = delete;
  PostgresProbe& operator=(const PostgresProbe&) = delete;

  Duration timeout() const { return timeout_; }
  // Blocks for at most the check's timeout (or until `deadline`, if earlier).
  // nullopt when `stop` was requested before the check finished.
  std::optional<CheckResult> run(Clock::time_point deadline, std::stop_token stop);

 private:
  struct ConnectionCloser {
    void operator()(pg_conn* connection) const;
  };
  using ConnectionPtr = std::unique_ptr<pg_conn, ConnectionCloser>;

  PostgresCheck config_;
  Duration timeout_;
  std::string parameters_error_;  // before parameters_: its initialiser writes here
  std::optional<ConnectionParameters> parameters_;
  ConnectionPtr connection_;  // kept from the last successful run
};

}  // namespace assets::health
