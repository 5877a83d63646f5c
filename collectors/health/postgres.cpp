#include "collectors/health/postgres.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <re2/re2.h>

#include "collectors/health/net.h"
#include "collectors/net/socket.h"

namespace assets::health {
namespace {

// pg_stat_activity shows other roles' sessions only to members of pg_read_all_stats
// (pg_monitor includes it) and to superusers; the sixth column says whether this role is
// one, since without it the connection count is only this check's own session.
constexpr const char* kLivenessQuery =
    "SELECT 1, current_setting('server_version'), pg_is_in_recovery(), "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
    "current_setting('max_connections')::bigint, "
    "pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') "
    "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)";
// pg_roles is readable by every role (it masks only the password), so the audit needs no
// grant. 'infinity' is a validity that never ends: reported as none. One row more than
// the bound tells that roles were left out.
// The ninth column: membership (direct or not) of a role that holds an attribute or may
// read or write the server's files or run programs there, which SET ROLE turns into the
// privilege itself.
constexpr const char* kRoleAuditQuery =
    "SELECT r.rolname, r.rolname = current_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, "
    "r.rolbypassrls, "
    "CASE WHEN r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity' THEN NULL "
    "ELSE extract(epoch FROM r.rolvaliduntil) END, "
    "EXISTS (SELECT 1 FROM pg_roles p WHERE p.oid <> r.oid AND pg_has_role(r.oid, p.oid, 'MEMBER') AND "
    "(p.rolsuper OR p.rolcreaterole OR p.rolcreatedb OR p.rolreplication OR p.rolbypassrls OR "
    "p.rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'))) "
    "FROM pg_roles r WHERE r.rolcanlogin ORDER BY r.rolname LIMIT $1";
constexpr const char* kDatabaseSizeQuery =
    "SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname = ANY($1::text[]) ORDER BY datname";

struct ResultCloser {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultCloser>;

std::string_view classify_sqlstate(std::string_view state) {
  if (state.starts_with("28") || state == "42501") return reason::kAuth;  // invalid authorization, privilege
  if (state == "57014") return reason::kTimeout;                            // statement_timeout
  if (state == "08P01") return reason::kProtocol;
  return reason::kOther;  // e.g. 3D000 database missing, 57P03 starting up, 53300 too many clients
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

std::string find_parameter(const ConnectionParameters& parameters, std::string_view key) {
  for (const auto& [name, value] : parameters) {
    if (name == key) return value;
  }
  return {};
}

void set_parameter(ConnectionParameters& parameters, const std::string& key, const std::string& value) {
  for (auto& [name, old_value] : parameters) {
    if (name == key) {
      old_value = value;
      return;
    }
  }
  parameters.emplace_back(key, value);
}

// A failed step; `connection_lost` says a reused connection was dead, which is worth one
// reconnect in the same run.
struct Failure {
  std::string_view reason;
  std::string detail;
  bool stopped = false;
  bool connection_lost = false;
};

std::string error_text(PGconn* connection) {
  std::string text = PQerrorMessage(connection);
  // Verbose errors end with a LOCATION line naming the server's source file: noise here.
  for (auto at = text.find("LOCATION:"); at != std::string::npos; at = text.find("LOCATION:")) {
    const auto end = text.find('\n', at);
    text.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
  }
  return text;
}

Failure connection_failure(PGconn* connection, std::string_view doing) {
  const std::string text = error_text(connection);
  // libpq's connection errors already say "connection to server ... failed".
  std::string detail = doing.empty() ? text : std::string(doing) + ": " + text;
  return Failure{classify_postgres_error(text), std::move(detail), false, PQstatus(connection) == CONNECTION_BAD};
}

std::optional<Failure> wait(PGconn* connection, short events, Clock::time_point deadline, std::stop_token stop,
                            std::string_view doing) {
  switch (net::wait_for(PQsocket(connection), events, deadline, stop)) {
    case net::WaitResult::ready:
      return std::nullopt;
    case net::WaitResult::timeout:
      return Failure{reason::kTimeout, std::string(doing) + ": timed out"};
    case net::WaitResult::stopped:
      break;
  }
  return Failure{reason::kOther, "stopped", true};
}

// Sends a query already queued with PQsendQuery*, then reads its single result.
std::optional<Failure> await_result(PGconn* connection, ResultPtr& out, Clock::time_point deadline,
                                    std::stop_token stop) {
  while (true) {
    const int flushed = PQflush(connection);
    if (flushed == 0) break;
    if (flushed < 0) return connection_failure(connection, "sending query");
    if (auto failure = wait(connection, POLLOUT | POLLIN, deadline, stop, "sending query")) return failure;
    if (PQconsumeInput(connection) == 0) return connection_failure(connection, "sending query");
  }
  while (true) {
    while (PQisBusy(connection) == 1) {
      if (auto failure = wait(connection, POLLIN, deadline, stop, "waiting for the query result")) return failure;
      if (PQconsumeInput(connection) == 0) return connection_failure(connection, "reading query result");
    }
    PGresult* result = PQgetResult(connection);
    if (result == nullptr) break;
    if (!out) {
      out.reset(result);
    } else {
      PQclear(result);
    }
  }
  if (!out) return connection_failure(connection, "query");
  if (PQresultStatus(out.get()) != PGRES_TUPLES_OK) {
    const std::string text = PQresultErrorMessage(out.get());
    const char* state = PQresultErrorField(out.get(), PG_DIAG_SQLSTATE);
    const std::string_view failure_reason = state != nullptr ? classify_sqlstate(state) : classify_postgres_error(text);
    return Failure{failure_reason, "query: " + text, false, PQstatus(connection) == CONNECTION_BAD};
  }
  return std::nullopt;
}

double number(const PGresult* result, int row, int column) {
  return std::strtod(PQgetvalue(result, row, column), nullptr);
}

std::optional<Failure> audit_roles(PGconn* connection, const PostgresAudit& audit, PostgresFacts& facts,
                                   Clock::time_point deadline, std::stop_token stop) {
  const std::string limit = std::to_string(kMaxAuditedRoles + 1);
  const char* values[] = {limit.c_str()};
  ResultPtr rows;
  if (PQsendQueryParams(connection, kRoleAuditQuery, 1, nullptr, values, nullptr, nullptr, 0) == 0) {
    return connection_failure(connection, "sending query");
  }
  if (auto failure = await_result(connection, rows, deadline, stop)) return failure;
  if (PQnfields(rows.get()) != 9) return Failure{reason::kProtocol, "unexpected answer to the role audit query"};
  const auto flag = [&](int row, int column) { return std::string_view(PQgetvalue(rows.get(), row, column)) == "t"; };
  auto& roles = facts.roles.emplace();
  facts.password_expiry_warning_seconds = to_seconds(audit.password_expiry_warning);
  const int count = std::min(PQntuples(rows.get()), static_cast<int>(kMaxAuditedRoles));
  facts.roles_truncated = PQntuples(rows.get()) > count;
  for (int row = 0; row < count; ++row) {
    PostgresRole& role = roles.emplace_back();
    role.name = PQgetvalue(rows.get(), row, 0);
    const bool is_app = std::find(audit.app_roles.begin(), audit.app_roles.end(), role.name) != audit.app_roles.end();
    role.role_class = flag(row, 1) ? "agent" : is_app ? "application" : "other";
    role.superuser = flag(row, 2);
    role.createrole = flag(row, 3);
    role.createdb = flag(row, 4);
    role.replication = flag(row, 5);
    role.bypassrls = flag(row, 6);
    if (PQgetisnull(rows.get(), row, 7) == 0) role.valid_until = number(rows.get(), row, 7);
    role.member_of_privileged = flag(row, 8);
  }
  return std::nullopt;
}

std::optional<Failure> query(PGconn* connection, const PostgresCheck& check, PostgresFacts& facts,
                             Clock::time_point deadline, std::stop_token stop) {
  const std::vector<std::string>& databases = check.databases;
  ResultPtr liveness;
  if (PQsendQuery(connection, kLivenessQuery) == 0) return connection_failure(connection, "sending query");
  if (auto failure = await_result(connection, liveness, deadline, stop)) return failure;
  if (PQntuples(liveness.get()) != 1 || PQnfields(liveness.get()) != 6) {
    return Failure{reason::kProtocol, "unexpected answer to the liveness query"};
  }
  facts.server_version = PQgetvalue(liveness.get(), 0, 1);
  facts.in_recovery = std::string_view(PQgetvalue(liveness.get(), 0, 2)) == "t";
  facts.connections = number(liveness.get(), 0, 3);
  facts.max_connections = number(liveness.get(), 0, 4);
  facts.sees_all_sessions = std::string_view(PQgetvalue(liveness.get(), 0, 5)) == "t";
  if (check.audit) {
    if (auto failure = audit_roles(connection, *check.audit, facts, deadline, stop)) return failure;
  }
  if (databases.empty()) return std::nullopt;

  const std::string names = postgres_text_array(databases);
  const char* values[] = {names.c_str()};
  ResultPtr sizes;
  if (PQsendQueryParams(connection, kDatabaseSizeQuery, 1, nullptr, values, nullptr, nullptr, 0) == 0) {
    return connection_failure(connection, "sending query");
  }
  if (auto failure = await_result(connection, sizes, deadline, stop)) return failure;
  for (int row = 0; row < PQntuples(sizes.get()); ++row) {
    facts.database_sizes.emplace_back(PQgetvalue(sizes.get(), row, 0), number(sizes.get(), row, 1));
  }
  return std::nullopt;
}

}  // namespace

std::string_view classify_postgres_error(std::string_view message) {
  static const re2::RE2 kSqlState(R"((?:FATAL|ERROR|PANIC):\s+([0-9A-Z]{5}):)");
  std::string state;
  if (re2::RE2::PartialMatch(message, kSqlState, &state)) return classify_sqlstate(state);
  if (contains(message, "timeout expired")) return reason::kTimeout;
  if (contains(message, "could not translate host name")) return reason::kDns;
  if (contains(message, "SSL") || contains(message, "certificate")) return reason::kTls;
  if (contains(message, "Connection refused") || contains(message, "No such file or directory")) {
    return reason::kRefused;  // TCP refused, or no unix socket: nothing listens there
  }
  if (contains(message, "password") || contains(message, "pg_hba.conf")) return reason::kAuth;
  return reason::kOther;
}

std::string postgres_text_array(const std::vector<std::string>& values) {
  std::string literal = "{";
  for (const auto& value : values) {
    if (literal.size() > 1) literal += ',';
    literal += '"';
    for (const char c : value) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

std::optional<ConnectionParameters> connection_parameters(const PostgresCheck& check, Duration timeout,
                                                          std::string& error) {
  ConnectionParameters parameters;
  if (!check.dsn.empty()) {
    char* parse_error = nullptr;
    PQconninfoOption* options = PQconninfoParse(check.dsn.c_str(), &parse_error);
    if (options == nullptr) {
      error = std::string("invalid dsn: ") + (parse_error != nullptr ? parse_error : "out of memory");
      PQfreemem(parse_error);
      return std::nullopt;
    }
    for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
      if (option->val != nullptr && std::string_view(option->keyword) != "password") {
        parameters.emplace_back(option->keyword, option->val);
      }
    }
    PQconninfoFree(options);
  } else {
    parameters = {{"host", check.host}, {"port", std::to_string(check.port)}, {"user", check.user},
                  {"dbname", check.dbname}};
  }
  if (find_parameter(parameters, "sslmode").empty()) set_parameter(parameters, "sslmode", check.sslmode);
  if (find_parameter(parameters, "application_name").empty()) {
    set_parameter(parameters, "application_name", "assets-agent");
  }
  // The probe enforces the timeout itself; these make the server give up too.
  const auto seconds = static_cast<long>(std::ceil(to_seconds(timeout)));
  set_parameter(parameters, "connect_timeout", std::to_string(std::max(2L, seconds)));
  std::string options = find_parameter(parameters, "options");
  if (!options.empty()) options += ' ';
  set_parameter(parameters, "options", options + "-c statement_timeout=" + std::to_string(timeout.count()));
  return parameters;
}

void PostgresProbe::ConnectionCloser::operator()(pg_conn* connection) const { PQfinish(connection); }

PostgresProbe::PostgresProbe(const PostgresCheck& config, Duration timeout)
    : config_(config), timeout_(timeout), parameters_(connection_parameters(config_, timeout, parameters_error_)) {}

PostgresProbe::~PostgresProbe() = default;

std::optional<CheckResult> PostgresProbe::run(Clock::time_point deadline, std::stop_token stop) {
  const auto started = Clock::now();
  deadline = std::min(deadline, started + timeout_);
  const net::SigpipeGuard no_sigpipe;
  PostgresFacts facts;

  const auto connect = [&]() -> std::optional<Failure> {
    ConnectionParameters parameters = *parameters_;
    // Resolve here, bounded by the deadline; libpq's own lookup would block without one.
    const std::string host = find_parameter(parameters, "host");
    const bool plain_name = !host.empty() && host.front() != '/' && host.front() != '@' &&
                            host.find(',') == std::string::npos && !net::is_ip_literal(host);
    if (plain_name && find_parameter(parameters, "hostaddr").empty()) {
      std::string port = find_parameter(parameters, "port");
      auto resolution = net::resolve(HostPort{host, port.empty() ? "5432" : port}, deadline, stop);
      if (const auto& failure = resolution.failure) {
        return Failure{reason_of(*failure), failure->detail, failure->kind == net::FailureKind::stopped};
      }
      std::string hosts;
      std::string addresses;
      for (const auto& endpoint : resolution.endpoints) {
        hosts += (hosts.empty() ? "" : ",") + host;
        addresses += (addresses.empty() ? "" : ",") + endpoint.text;
      }
      set_parameter(parameters, "host", hosts);
      set_parameter(parameters, "hostaddr", addresses);
    }
    // The password goes to libpq only through this array, never through a string.
    std::vector<const char*> keys;
    std::vector<const char*> values;
    for (const auto& [key, value] : parameters) {
      keys.push_back(key.c_str());
      values.push_back(value.c_str());
    }
    if (!config_.password.empty()) {
      keys.push_back("password");
      values.push_back(config_.password.reveal().c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);

    ConnectionPtr connection(PQconnectStartParams(keys.data(), values.data(), 0));
    if (!connection) return Failure{reason::kOther, "connecting: out of memory"};
    PQsetErrorVerbosity(connection.get(), PQERRORS_VERBOSE);
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    if (PQstatus(connection.get()) == CONNECTION_BAD) status = PGRES_POLLING_FAILED;
    while (status != PGRES_POLLING_OK) {
      if (status == PGRES_POLLING_FAILED) return connection_failure(connection.get(), "");
      if (PQsocket(connection.get()) >= 0) {
        const short events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (auto failure = wait(connection.get(), events, deadline, stop, "connecting")) return failure;
      }
      status = PQconnectPoll(connection.get());
    }
    if (PQsetnonblocking(connection.get(), 1) != 0) return connection_failure(connection.get(), "connecting");
    connection_ = std::move(connection);
    return std::nullopt;
  };

  const auto outcome = [&]() -> std::optional<Failure> {
    if (!parameters_) return Failure{reason::kOther, parameters_error_};
    if (connection_ && PQstatus(connection_.get()) == CONNECTION_OK) {
      auto failure = query(connection_.get(), config_, facts, deadline, stop);
      if (!failure || !failure->connection_lost) return failure;
      connection_.reset();  // the server went away since the last run: try a fresh connection
      facts = PostgresFacts{};
    }
    connection_.reset();
    if (auto failure = connect()) return failure;
    return query(connection_.get(), config_, facts, deadline, stop);
  }();

  if (outcome) connection_.reset();  // its state is unknown after any failure
  if (outcome && outcome->stopped) return std::nullopt;
  CheckResult result;
  if (outcome) {
    const std::string_view secrets[] = {config_.password.reveal()};
    result = failed(outcome->reason, sanitize_detail(outcome->detail, secrets));
  } else {
    result.up = true;
    result.postgres = std::move(facts);
  }
  result.duration_seconds = seconds_between(started, Clock::now());
  return result;
}

}  // namespace assets::health
