// PostgreSQL checks against a real PostgreSQL server started by the fixture.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "agent/log.h"
#include "tests/integration/health_servers.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

namespace assets::testing {
namespace {

constexpr const char* kMonitorPassword = "Mon1tor-Pa55-5d2e8b";

class HealthPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSETS_REQUIRE_COMPONENT(PostgresServer::available(), "PostgreSQL 15 server (Debian package postgresql)");
    server_ = std::make_unique<PostgresServer>();
    ASSERT_TRUE(server_->start()) << server_->log();
    std::string output;
    ASSERT_EQ(server_->sql("CREATE DATABASE app;\n"
                           "CREATE ROLE monitor LOGIN PASSWORD '" +
                               std::string(kMonitorPassword) + "' IN ROLE pg_monitor;",
                           &output),
              0)
        << output;
    secrets_.write("monitor-password", std::string(kMonitorPassword) + "\n");
    secrets_.write("wrong-password", "not-the-Pa55word-77\n");
    secrets_.write("superuser-password", server_->superuser_password() + "\n");
  }

  // A postgres check item for `health:` with the given keys after name and kind.
  static std::string item(const std::string& name, const std::string& keys) {
    return "  - name: " + name + "\n    kind: postgres\n" + keys;
  }
  std::string monitor_keys(const std::string& dbname = "app", const std::string& password_file = "monitor-password") const {
    return "    host: 127.0.0.1\n    port: " + std::to_string(server_->port()) +
           "\n    user: monitor\n    dbname: " + dbname + "\n    sslmode: disable\n    password_file: " +
           (secrets_ / password_file).string() + "\n";
  }
  static std::string config(const std::string& items, const std::string& global = "  interval: 30s\n  timeout: 5s\n") {
    return "global:\n" + global + "health:\n" + items;
  }

  std::unique_ptr<PostgresServer> server_;
  TempDir secrets_;
};

const TargetStatus& target(const HealthRun& run, const std::string& name) {
  const TargetStatus* found = find_target(run.result, name);
  if (found == nullptr) throw std::runtime_error("no target " + name);
  return *found;
}

TEST_F(HealthPostgresTest, MonitorRoleSeesServerFacts) {
  const auto run = run_health_once(
      config(item("db", monitor_keys() + "    databases: [app, postgres, no_such_db]\n") +
             item("db-dsn", "    dsn: host=127.0.0.1 port=" + std::to_string(server_->port()) +
                                " user=postgres dbname=postgres sslmode=disable\n    password_file: " +
                                (secrets_ / "superuser-password").string() + "\n")));
  const TargetStatus& db = target(run, "db");
  ASSERT_TRUE(db.up) << db.detail;
  EXPECT_EQ(db.kind, "postgres");
  EXPECT_TRUE(target(run, "db-dsn").up) << target(run, "db-dsn").detail;
  EXPECT_EQ(metric(run.result, "assets_check_up", {{"check", "db"}, {"kind", "postgres"}}), 1.0);
  EXPECT_EQ(metric(run.result, "assets_postgres_in_recovery", {{"check", "db"}}), 0.0);
  EXPECT_GE(*metric(run.result, "assets_postgres_connections", {{"check", "db"}}), 1.0);
  EXPECT_GT(*metric(run.result, "assets_postgres_max_connections", {{"check", "db"}}), 1.0);
  EXPECT_GT(*metric(run.result, "assets_postgres_database_size_bytes", {{"check", "db"}, {"database", "app"}}), 1e6);
  EXPECT_TRUE(metric(run.result, "assets_postgres_database_size_bytes", {{"check", "db"}, {"database", "postgres"}}));
  EXPECT_FALSE(metric(run.result, "assets_postgres_database_size_bytes", {{"check", "db"}, {"database", "no_such_db"}}));
  EXPECT_FALSE(metric(run.result, "assets_check_failure", {{"check", "db"}}));
  EXPECT_FALSE(metric(run.result, "assets_check_phase_duration_seconds", {{"check", "db"}}));
  EXPECT_EQ(metric(run.result, "assets_postgres_sees_all_sessions", {{"check", "db"}}), 1.0);
  EXPECT_EQ(metric(run.result, "assets_postgres_sees_all_sessions", {{"check", "db-dsn"}}), 1.0);  // the superuser

  std::string version;
  ASSERT_EQ(server_->sql("SHOW server_version", &version), 0) << version;
  while (!version.empty() && version.back() == '\n') version.pop_back();
  EXPECT_EQ(metric(run.result, "assets_postgres_info", {{"check", "db"}, {"server_version", version}}), 1.0)
      << exposition(run.result);
}

// Issue 13, item 7: without pg_monitor a role sees only its own session, so the
// connection count was 1 against 8 real ones, and nothing said so.
TEST_F(HealthPostgresTest, ARoleWithoutPgMonitorSaysItSeesOnlyItsOwnSession) {
  std::string output;
  ASSERT_EQ(server_->sql("CREATE ROLE plain LOGIN PASSWORD '" + std::string(kMonitorPassword) + "';", &output), 0)
      << output;
  const auto run = run_health_once(config(item(
      "plain", "    host: 127.0.0.1\n    port: " + std::to_string(server_->port()) +
                   "\n    user: plain\n    dbname: app\n    sslmode: disable\n    password_file: " +
                   (secrets_ / "monitor-password").string() + "\n")));
  ASSERT_TRUE(target(run, "plain").up) << target(run, "plain").detail;
  EXPECT_EQ(metric(run.result, "assets_postgres_sees_all_sessions", {{"check", "plain"}}), 0.0);
  EXPECT_EQ(metric(run.result, "assets_postgres_connections", {{"check", "plain"}}), 1.0);
}

// Issue 17: least privilege, audited by a role that has exactly pg_monitor.
TEST_F(HealthPostgresTest, AuditReportsEveryLoginRolesAttributesAndPasswordValidity) {
  std::string output;
  ASSERT_EQ(server_->sql("CREATE ROLE assets_app LOGIN CREATEDB PASSWORD 'app-Pa55' VALID UNTIL '2027-01-15 00:00:00+00';\n"
                         "CREATE ROLE assets_web LOGIN PASSWORD 'web-Pa55';\n"
                         "CREATE ROLE migrator LOGIN CREATEROLE REPLICATION BYPASSRLS;\n"
                         "CREATE ROLE legacy LOGIN VALID UNTIL 'infinity';\n"
                         "CREATE ROLE app_owners NOLOGIN SUPERUSER;\n"
                         "CREATE ROLE assets_worker LOGIN IN ROLE app_owners;",
                         &output),
            0)
      << output;
  const auto run = run_health_once(config(
      item("db", monitor_keys() + "    audit:\n      app_roles: [assets_app, assets_web, assets_worker]\n"
                                  "      password_expiry_warning: 30d\n") +
      item("db-superuser", "    host: 127.0.0.1\n    port: " + std::to_string(server_->port()) +
                               "\n    user: postgres\n    dbname: postgres\n    sslmode: disable\n    password_file: " +
                               (secrets_ / "superuser-password").string() + "\n    audit: true\n")));
  ASSERT_TRUE(target(run, "db").up) << target(run, "db").detail;
  ASSERT_TRUE(target(run, "db-superuser").up) << target(run, "db-superuser").detail;
  const auto attribute = [&](const std::string& check, const std::string& role, const std::string& role_class,
                             const std::string& name) {
    return metric(run.result, "assets_postgres_role_attribute",
                  {{"check", check}, {"role", role}, {"class", role_class}, {"attribute", name}});
  };
  for (const char* name : {"superuser", "createrole", "createdb", "replication", "bypassrls"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(attribute("db", "monitor", "agent", name), 0.0) << "pg_monitor is no attribute";
    EXPECT_EQ(attribute("db", "assets_web", "application", name), 0.0);
    EXPECT_EQ(attribute("db", "legacy", "other", name), 0.0);
    EXPECT_FALSE(metric(run.result, "assets_postgres_role_attribute", {{"role", "app_owners"}})) << "not a login role";
  }
  EXPECT_EQ(attribute("db", "assets_app", "application", "createdb"), 1.0);
  // No attribute of its own, but it may SET ROLE app_owners, a superuser.
  EXPECT_EQ(attribute("db", "assets_worker", "application", "superuser"), 0.0);
  EXPECT_EQ(attribute("db", "assets_worker", "application", "member_of_privileged"), 1.0);
  EXPECT_EQ(attribute("db", "assets_web", "application", "member_of_privileged"), 0.0);
  EXPECT_EQ(attribute("db", "monitor", "agent", "member_of_privileged"), 0.0) << "pg_monitor is not privileged";
  EXPECT_EQ(attribute("db", "assets_app", "application", "superuser"), 0.0);
  EXPECT_EQ(attribute("db", "migrator", "other", "createrole"), 1.0);
  EXPECT_EQ(attribute("db", "migrator", "other", "replication"), 1.0);
  EXPECT_EQ(attribute("db", "migrator", "other", "bypassrls"), 1.0);
  EXPECT_EQ(attribute("db", "postgres", "other", "superuser"), 1.0);
  // The superuser's own check sees itself as the agent's role.
  EXPECT_EQ(attribute("db-superuser", "postgres", "agent", "superuser"), 1.0);
  EXPECT_EQ(attribute("db-superuser", "assets_app", "other", "createdb"), 1.0) << "no app_roles there";

  EXPECT_EQ(metric(run.result, "assets_postgres_role_password_valid_until_timestamp_seconds",
                   {{"check", "db"}, {"role", "assets_app"}}),
            1799971200.0);  // 2027-01-15T00:00:00Z
  for (const char* role : {"legacy", "monitor", "assets_web"}) {
    EXPECT_FALSE(metric(run.result, "assets_postgres_role_password_valid_until_timestamp_seconds",
                        {{"check", "db"}, {"role", role}}))
        << role << ": infinity and unset are no deadline";
  }
  EXPECT_EQ(metric(run.result, "assets_postgres_role_password_expiry_warning_seconds", {{"check", "db"}}), 30.0 * 86400);
  EXPECT_EQ(metric(run.result, "assets_postgres_role_password_expiry_warning_seconds", {{"check", "db-superuser"}}),
            14.0 * 86400);
  EXPECT_EQ(metric(run.result, "assets_postgres_audit_roles_truncated", {{"check", "db"}}), 0.0);
  const std::string text = exposition(run.result);
  for (const char* secret : {"app-Pa55", "web-Pa55", kMonitorPassword}) EXPECT_EQ(text.find(secret), std::string::npos);
}

TEST_F(HealthPostgresTest, WithoutAuditThereAreNoRoleSeries) {
  const auto run = run_health_once(config(item("db", monitor_keys())));
  ASSERT_TRUE(target(run, "db").up) << target(run, "db").detail;
  EXPECT_FALSE(metric(run.result, "assets_postgres_role_attribute", {}));
  EXPECT_FALSE(metric(run.result, "assets_postgres_role_password_expiry_warning_seconds", {}));
}

TEST_F(HealthPostgresTest, FailuresHaveTheirReasons) {
  const auto run = run_health_once(config(
      item("wrong-password", monitor_keys("app", "wrong-password")) +
      item("no-password", "    host: 127.0.0.1\n    port: " + std::to_string(server_->port()) +
                              "\n    user: monitor\n    dbname: app\n    sslmode: disable\n") +
      item("unknown-role", "    host: 127.0.0.1\n    port: " + std::to_string(server_->port()) +
                               "\n    user: nobody_here\n    dbname: app\n    sslmode: disable\n    password_file: " +
                               (secrets_ / "monitor-password").string() + "\n") +
      item("missing-database", monitor_keys("no_such_db")) +
      item("closed-port", "    host: 127.0.0.1\n    port: " + std::to_string(free_tcp_port()) + "\n") +
      item("unresolvable", "    host: " + std::string(70, 'n') + ".invalid\n")));
  const std::map<std::string, std::string> expected = {
      {"wrong-password", "auth"}, {"no-password", "auth"}, {"unknown-role", "auth"},
      {"missing-database", "other"}, {"closed-port", "refused"}, {"unresolvable", "dns"}};
  for (const auto& [name, reason] : expected) {
    const TargetStatus& status = target(run, name);
    EXPECT_FALSE(status.up) << name;
    EXPECT_EQ(status.reason, reason) << name << ": " << status.detail;
    EXPECT_EQ(metric(run.result, "assets_check_failure", {{"check", name}, {"reason", reason}}), 1.0) << name;
    EXPECT_EQ(metric(run.result, "assets_check_up", {{"check", name}}), 0.0) << name;
    EXPECT_FALSE(metric(run.result, "assets_postgres_info", {{"check", name}})) << name;
  }
  EXPECT_NE(target(run, "missing-database").detail.find("does not exist"), std::string::npos)
      << target(run, "missing-database").detail;
}

TEST_F(HealthPostgresTest, RestartIsSeenAsDownThenUpInTheSameCollector) {
  // A short interval so that every run below runs the check again.
  Duration timeout{};
  auto collector = make_health(config(item("db", monitor_keys()), "  interval: 1s\n  timeout: 900ms\n"), &timeout);
  const auto next_run = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    return run_health(*collector, timeout);
  };

  const auto up = run_health(*collector, timeout);
  ASSERT_TRUE(target(up, "db").up) << target(up, "db").detail;
  const auto again = next_run();  // re-uses the connection of the first run
  ASSERT_TRUE(target(again, "db").up) << target(again, "db").detail;

  ASSERT_TRUE(server_->stop()) << server_->log();
  const auto stopped = next_run();
  EXPECT_FALSE(target(stopped, "db").up);
  EXPECT_EQ(target(stopped, "db").reason, "refused") << target(stopped, "db").detail;
  EXPECT_EQ(metric(stopped.result, "assets_check_up", {{"check", "db"}}), 0.0);
  const auto still_stopped = next_run();
  EXPECT_FALSE(target(still_stopped, "db").up);

  ASSERT_TRUE(server_->start()) << server_->log();
  const auto restarted = next_run();
  EXPECT_TRUE(target(restarted, "db").up) << target(restarted, "db").detail;
  EXPECT_EQ(metric(restarted.result, "assets_check_up", {{"check", "db"}}), 1.0);
  EXPECT_FALSE(metric(restarted.result, "assets_check_failure", {{"check", "db"}}));

  // Restarted while the kept connection was idle: the next run sees the new server.
  ASSERT_TRUE(server_->stop()) << server_->log();
  ASSERT_TRUE(server_->start()) << server_->log();
  const auto bounced = next_run();
  EXPECT_TRUE(target(bounced, "db").up) << target(bounced, "db").detail;
}

TEST_F(HealthPostgresTest, DownWhenTheCollectorStartsThenUp) {
  ASSERT_TRUE(server_->stop()) << server_->log();
  Duration timeout{};
  auto collector = make_health(config(item("db", monitor_keys()), "  interval: 1s\n  timeout: 900ms\n"), &timeout);
  const auto down = run_health(*collector, timeout);
  EXPECT_FALSE(target(down, "db").up);
  EXPECT_EQ(target(down, "db").reason, "refused") << target(down, "db").detail;
  EXPECT_FALSE(metric(down.result, "assets_check_last_success_timestamp_seconds", {{"check", "db"}}));

  ASSERT_TRUE(server_->start()) << server_->log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto up = run_health(*collector, timeout);
  EXPECT_TRUE(target(up, "db").up) << target(up, "db").detail;
  EXPECT_TRUE(metric(up.result, "assets_check_last_success_timestamp_seconds", {{"check", "db"}}));
}

TEST_F(HealthPostgresTest, PasswordFromFileAppearsNowhere) {
  const std::string checks =
      item("db-ok", monitor_keys()) + item("db-missing", monitor_keys("no_such_db")) +
      item("db-wrong-user", "    host: 127.0.0.1\n    port: " + std::to_string(server_->port()) +
                                "\n    user: nobody_here\n    dbname: app\n    sslmode: disable\n    password_file: " +
                                (secrets_ / "monitor-password").string() + "\n") +
      item("db-closed", "    host: 127.0.0.1\n    port: " + std::to_string(free_tcp_port()) + "\n    password_file: " +
                            (secrets_ / "monitor-password").string() + "\n") +
      item("db-dsn", "    dsn: postgresql://monitor@127.0.0.1:" + std::to_string(server_->port()) +
                         "/app?sslmode=require\n    password_file: " + (secrets_ / "monitor-password").string() +
                         "\n");

  log::configure(log::Level::debug, log::Format::logfmt);
  ::testing::internal::CaptureStderr();
  const auto run = run_health_once(config(checks));
  const std::string logs = ::testing::internal::GetCapturedStderr();
  log::configure(log::Level::info, log::Format::logfmt);

  EXPECT_TRUE(target(run, "db-ok").up) << target(run, "db-ok").detail;
  EXPECT_EQ(target(run, "db-dsn").reason, "tls") << target(run, "db-dsn").detail;  // no SSL on the test server
  std::string details;
  for (const auto& status : run.result.targets) details += status.name + ": " + status.detail + "\n";
  const std::string metrics = exposition(run.result);
  EXPECT_NE(logs.find("db-missing"), std::string::npos) << logs;
  EXPECT_EQ(metrics.find(kMonitorPassword), std::string::npos) << metrics;
  EXPECT_EQ(details.find(kMonitorPassword), std::string::npos) << details;
  EXPECT_EQ(logs.find(kMonitorPassword), std::string::npos) << logs;

  // The same through the binary: `assets-agent check` with passing and failing checks.
  const std::string agent = agent_binary();
  ASSERT_FALSE(find_program(agent).empty()) << "assets-agent not built: " << agent;
  secrets_.write("agent.yml", config(checks));
  std::string output;
  const int status = run_command({agent, "--config.file", (secrets_ / "agent.yml").string(), "--log.level", "debug",
                                  "check"},
                                 &output);
  EXPECT_EQ(status, 1) << output;
  EXPECT_NE(output.find("db-ok"), std::string::npos) << output;
  EXPECT_NE(output.find("db-missing"), std::string::npos) << output;
  EXPECT_EQ(output.find(kMonitorPassword), std::string::npos) << output;
}

}  // namespace
}  // namespace assets::testing
