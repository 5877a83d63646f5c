// The health collector: runs the configured http, tcp, postgres and dns checks concurrently,
// each bounded by its own timeout, and reports the latest result of every check.
#include "collectors/health/health.h"

#include <algorithm>

#include "agent/fan_out.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/utf8.h"
#include "collectors/health/check.h"
#include "collectors/health/dns.h"
#include "collectors/health/http.h"
#include "collectors/health/postgres.h"
#include "collectors/health/tcp.h"

namespace assets {
namespace {

using health::CheckResult;
using health::Clock;

// tcp and postgres checks block a thread each; beyond this many they queue.
constexpr std::size_t kMaxBlockingThreads = 64;

struct CheckState {
  std::string name;
  CheckKind kind = CheckKind::http;
  Duration interval{};
  Duration timeout{};
  DueTime due;
  std::optional<CheckResult> last;
  std::optional<double> last_success_unix;
  std::unique_ptr<health::HttpProbe> http;
  std::unique_ptr<health::TcpProbe> tcp;
  std::unique_ptr<health::PostgresProbe> postgres;
  std::unique_ptr<health::DnsProbe> dns;
};

class HealthCollector final : public Collector {
 public:
  explicit HealthCollector(const HealthConfig& section) : tick_(section.interval) {
    health::init_curl();
    for (const CheckConfig& check : section.checks) {
      auto state = std::make_unique<CheckState>();
      state->name = check.name;
      state->kind = check.kind();
      state->interval = check.interval;
      state->timeout = check.timeout;
      if (const auto* http = std::get_if<HttpCheck>(&check.probe)) {
        state->http = std::make_unique<health::HttpProbe>(*http, state->timeout);
      } else if (const auto* tcp = std::get_if<TcpCheck>(&check.probe)) {
        state->tcp = std::make_unique<health::TcpProbe>(*tcp, state->timeout);
      } else if (const auto* dns = std::get_if<DnsCheck>(&check.probe)) {
        state->dns = std::make_unique<health::DnsProbe>(*dns, state->timeout);
      } else {
        state->postgres = std::make_unique<health::PostgresProbe>(std::get<PostgresCheck>(check.probe), state->timeout);
      }
      checks_.push_back(std::move(state));
    }
  }

 protected:
  CollectResult collect(const CollectContext& context) override {
    run_due_checks(context);
    return report();
  }

 private:
  void run_due_checks(const CollectContext& context) {
    const auto started = Clock::now();
    std::vector<CheckState*> http_due;
    std::vector<CheckState*> blocking_due;
    for (const auto& state : checks_) {
      if (!state->due.due(started, tick_)) continue;
      (state->kind == CheckKind::http ? http_due : blocking_due).push_back(state.get());
    }

    // The blocking checks run on threads of their own while this thread drives every HTTP
    // check in one libcurl loop.
    std::vector<std::optional<CheckResult>> blocking_results(blocking_due.size());
    BackgroundFanOut blocking(blocking_due.size(), kMaxBlockingThreads, context.stop, [&](std::size_t i) {
      CheckState& state = *blocking_due[i];
      blocking_results[i] = state.tcp   ? state.tcp->run(context.deadline, context.stop)
                            : state.dns ? state.dns->run(context.deadline, context.stop)
                                        : state.postgres->run(context.deadline, context.stop);
    });

    std::vector<health::HttpProbe*> probes;
    for (CheckState* state : http_due) probes.push_back(state->http.get());
    auto http_results = health::run_http_checks(probes, context.deadline, context.stop);
    blocking.join();

    // A check cut short by a stop request keeps its previous result and stays due.
    for (std::size_t i = 0; i < http_due.size(); ++i) record(*http_due[i], std::move(http_results[i]), started);
    for (std::size_t i = 0; i < blocking_due.size(); ++i) {
      record(*blocking_due[i], std::move(blocking_results[i]), started);
    }
  }

  static void record(CheckState& state, std::optional<CheckResult> result, Clock::time_point started) {
    if (!result) return;
    state.due.ran(started, state.interval);
    // Changes of state are logged by the driver, for every collector alike.
    if (result->up) {
      state.last_success_unix = unix_time_now();
    } else {
      log::debug("health check failed", {{"check", state.name},
                                         {"kind", std::string(to_string(state.kind))},
                                         {"reason", result->reason},
                                         {"detail", result->detail}});
    }
    state.last = std::move(result);
  }

  CollectResult report() const {
    MetricsBuilder metrics;
    auto& up = metrics.gauge("assets_check_up",
                             "1 if the last attempt of the health check succeeded, else 0 (cached from the last "
                             "background run).");
    auto& duration = metrics.gauge("assets_check_duration_seconds",
                                   "Total time of the last attempt of the health check, in seconds.");
    auto& phases = metrics.gauge("assets_check_phase_duration_seconds",
                                 "Time of each phase of the last HTTP check attempt (resolve, connect, tls, "
                                 "processing, transfer), in seconds.");
    auto& failure = metrics.gauge("assets_check_failure",
                                  "1 with the reason while the health check fails (timeout, refused, dns, tls, "
                                  "status, body, protocol, auth, other); absent while it succeeds.");
    auto& last_success = metrics.gauge("assets_check_last_success_timestamp_seconds",
                                       "Unix time of the last successful attempt of the health check.");
    auto& timeout = metrics.gauge("assets_check_timeout_seconds", "Configured timeout of the health check, in seconds.");
    auto& status_code = metrics.gauge("assets_http_status_code",
                                      "HTTP status code of the last response of the check (0: no response).");
    auto& response_bytes =
        metrics.gauge("assets_http_response_bytes", "Body bytes read from the last response (at most max_body_bytes).");
    auto& redirects = metrics.gauge("assets_http_redirects", "Redirects followed by the last HTTP check attempt.");
    auto& pg_info = metrics.gauge("assets_postgres_info", "PostgreSQL server version seen by the last check (always 1).");
    auto& pg_recovery =
        metrics.gauge("assets_postgres_in_recovery", "1 if the PostgreSQL server is in recovery (a standby), else 0.");
    auto& pg_connections = metrics.gauge("assets_postgres_connections",
                                         "Client backends in pg_stat_activity at the last check.");
    auto& pg_max_connections =
        metrics.gauge("assets_postgres_max_connections", "The PostgreSQL server's max_connections setting.");
    auto& pg_sees_all = metrics.gauge("assets_postgres_sees_all_sessions",
                                      "1 if the check's role sees every session (pg_monitor or superuser); at 0, "
                                      "assets_postgres_connections counts only the check's own.");
    auto& pg_database_size = metrics.gauge("assets_postgres_database_size_bytes",
                                           "Size of each configured database at the last check, in bytes.");
    auto& pg_role_attribute = metrics.gauge(
        "assets_postgres_role_attribute",
        "With audit: 1 when the login role holds the attribute (superuser, createrole, createdb, replication, "
        "bypassrls, member_of_privileged); class is agent (the check's own role), application (app_roles) or other.");
    auto& pg_role_valid_until = metrics.gauge("assets_postgres_role_password_valid_until_timestamp_seconds",
                                              "With audit: the login role's rolvaliduntil, Unix seconds; absent "
                                              "when unset or infinity.");
    auto& pg_role_warning = metrics.gauge("assets_postgres_role_password_expiry_warning_seconds",
                                          "Policy: warn when a role's password validity ends within this many seconds.");
    auto& pg_roles_truncated = metrics.gauge("assets_postgres_audit_roles_truncated",
                                             "With audit: 1 when the server has more login roles than the agent "
                                             "reports (500).");

    auto& dns_rcode = metrics.gauge("assets_dns_rcode", "Response code of the dns check's last answer (0: NOERROR).");
    auto& dns_answer = metrics.gauge("assets_dns_answer_rrs", "Records in the answer section of the dns check's last answer.");
    auto& dns_authority =
        metrics.gauge("assets_dns_authority_rrs", "Records in the authority section of the dns check's last answer.");
    auto& dns_additional =
        metrics.gauge("assets_dns_additional_rrs", "Records in the additional section of the dns check's last answer.");

    CollectResult result;
    for (const auto& state : checks_) {
      const std::string check = bounded_label_value(state->name);
      const std::string kind(to_string(state->kind));
      timeout.add({{"check", check}}, to_seconds(state->timeout));
      if (state->last_success_unix) last_success.add({{"check", check}}, *state->last_success_unix);
      if (!state->last) continue;
      const CheckResult& last = *state->last;
      up.add({{"check", check}, {"kind", kind}}, last.up ? 1 : 0);
      duration.add({{"check", check}, {"kind", kind}}, last.duration_seconds);
      if (!last.up) failure.add({{"check", check}, {"reason", last.reason}}, 1);
      if (last.http) {
        const health::PhaseDurations& phase = last.http->phases;
        for (const auto& [name, seconds] : {std::pair{"resolve", phase.resolve}, std::pair{"connect", phase.connect},
                                            std::pair{"tls", phase.tls}, std::pair{"processing", phase.processing},
                                            std::pair{"transfer", phase.transfer}}) {
          phases.add({{"check", check}, {"phase", name}}, seconds);
        }
        status_code.add({{"check", check}}, static_cast<double>(last.http->status_code));
        response_bytes.add({{"check", check}}, static_cast<double>(last.http->response_bytes));
        redirects.add({{"check", check}}, static_cast<double>(last.http->redirects));
      }
      if (last.dns) {
        dns_rcode.add({{"check", check}}, last.dns->rcode);
        dns_answer.add({{"check", check}}, static_cast<double>(last.dns->answer_records));
        dns_authority.add({{"check", check}}, static_cast<double>(last.dns->authority_records));
        dns_additional.add({{"check", check}}, static_cast<double>(last.dns->additional_records));
      }
      if (last.postgres) {
        const health::PostgresFacts& pg = *last.postgres;
        pg_info.add({{"check", check}, {"server_version", bounded_label_value(pg.server_version)}}, 1);
        pg_recovery.add({{"check", check}}, pg.in_recovery ? 1 : 0);
        pg_connections.add({{"check", check}}, pg.connections);
        pg_max_connections.add({{"check", check}}, pg.max_connections);
        pg_sees_all.add({{"check", check}}, pg.sees_all_sessions ? 1 : 0);
        for (const auto& [database, bytes] : pg.database_sizes) {
          pg_database_size.add({{"check", check}, {"database", bounded_label_value(database)}}, bytes);
        }
        if (pg.roles) {
          pg_role_warning.add({{"check", check}}, pg.password_expiry_warning_seconds);
          pg_roles_truncated.add({{"check", check}}, pg.roles_truncated ? 1 : 0);
          for (const health::PostgresRole& role : *pg.roles) {
            const std::string name = bounded_label_value(valid_utf8(role.name));
            const std::string role_class(role.role_class);
            for (const auto& [attribute, held] :
                 {std::pair{"superuser", role.superuser}, std::pair{"createrole", role.createrole},
                  std::pair{"createdb", role.createdb}, std::pair{"replication", role.replication},
                  std::pair{"bypassrls", role.bypassrls}, std::pair{"member_of_privileged", role.member_of_privileged}}) {
              pg_role_attribute.add({{"check", check}, {"role", name}, {"class", role_class}, {"attribute", attribute}},
                                    held ? 1 : 0);
            }
            if (role.valid_until) pg_role_valid_until.add({{"check", check}, {"role", name}}, *role.valid_until);
          }
        }
      }
      result.targets.push_back(TargetStatus{state->name, kind, last.up, last.reason, last.detail, last.duration_seconds});
    }
    result.families = metrics.take();
    return result;
  }

  Duration tick_;
  std::vector<std::unique_ptr<CheckState>> checks_;
};

}  // namespace

std::unique_ptr<Collector> make_health_collector(const HealthConfig& section) {
  return std::make_unique<HealthCollector>(section);
}

}  // namespace assets
