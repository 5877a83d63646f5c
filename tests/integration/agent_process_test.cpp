// The real binary, started as an operator would: port 0, endpoints, signals, exit codes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;

using testing::AgentProcess;
using testing::read_file;

TEST(AgentProcess, ServesEveryEndpointAndStopsWithinTwoSecondsOfSigterm) {
  testing::TempDir dir;
  dir.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\n");
  AgentProcess agent(dir / "agent.log", {"--config.file", (dir / "agent.yml").string()});
  ASSERT_GT(agent.port(), 0) << agent.log();

  const auto metrics = testing::http_request("GET", agent.url("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("assets_agent_build_info{"), std::string::npos);
  EXPECT_NE(metrics.body.find("process_resident_memory_bytes "), std::string::npos);
  const auto gzipped = testing::http_request("GET", agent.url("/metrics"), {"Accept-Encoding: gzip"});
  EXPECT_EQ(gzipped.content_encoding, "gzip");
  EXPECT_EQ(testing::http_request("GET", agent.url("/healthz")).status, 200);
  EXPECT_EQ(testing::http_request("GET", agent.url("/-/ready")).status, 200);
  const auto page = testing::http_request("GET", agent.url("/"));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(testing::http_request("GET", agent.url("/missing")).status, 404);
  EXPECT_EQ(testing::http_request("PUT", agent.url("/metrics")).status, 405);
  EXPECT_EQ(testing::http_request("GET", agent.url("/-/healthy")).status, 200);
  // Without --web.enable-lifecycle, as in Prometheus; SIGHUP reloads either way.
  EXPECT_EQ(testing::http_request("POST", agent.url("/-/reload")).status, 403);

  const auto started = std::chrono::steady_clock::now();
  const int status = agent.process().stop(SIGTERM, 2s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  ASSERT_NE(status, -1) << "did not exit within 2 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(AgentProcess, SighupWithABadFileKeepsRunning) {
  testing::TempDir dir;
  dir.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\n");
  AgentProcess agent(dir / "agent.log", {"--config.file", (dir / "agent.yml").string()});
  ASSERT_GT(agent.port(), 0) << agent.log();
  dir.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\n  bogus: 1\n");
  kill(agent.process().pid(), SIGHUP);
  std::string body;
  for (int i = 0; i < 100 && body.find("assets_agent_config_last_reload_successful 0") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    body = testing::http_request("GET", agent.url("/metrics")).body;
  }
  EXPECT_NE(body.find("assets_agent_config_last_reload_successful 0"), std::string::npos);
  EXPECT_NE(agent.log().find("agent.yml:4:3: global.bogus: unknown key"), std::string::npos);
  EXPECT_TRUE(agent.process().running());
}

// Issue 13, item 6: only health checks logged their changes of state.
TEST(AgentProcess, LogsEveryTargetThatGoesDownOrComesBack) {
  testing::TempDir dir;
  const auto backups = dir / "backups";
  dir.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\nbackups:\n  - name: db\n    path: " +
                             backups.string() + "\n    settle: 0s\n    min_size: 10\n");
  AgentProcess agent(dir / "agent.log", {"--config.file", (dir / "agent.yml").string()});
  ASSERT_GT(agent.port(), 0) << agent.log();
  EXPECT_TRUE(testing::eventually([&] {
    return agent.log().find("msg=\"target down\" collector=backups target=db kind=backup reason=not_found") !=
           std::string::npos;
  }, 10s)) << agent.log();
  std::filesystem::create_directories(backups);
  dir.write("backups/db.sql", "SELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n\n");
  EXPECT_TRUE(testing::eventually([&] {
    return agent.log().find("msg=\"target up again\" collector=backups target=db kind=backup") != std::string::npos;
  }, 10s)) << agent.log();
}

TEST(AgentProcess, EmbeddedDefaultOutputPassesPromtool) {
  const std::string promtool = testing::find_program("promtool");
  ASSETS_REQUIRE_COMPONENT(!promtool.empty(), "promtool (package prometheus)");
  testing::TempDir dir;
  AgentProcess agent(dir / "agent.log", {});
  ASSERT_GT(agent.port(), 0) << agent.log();
  // Wait until every collector of the default config has run once, so their metrics are in.
  for (int i = 0; i < 300 && testing::http_request("GET", agent.url("/-/ready")).status != 200; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  const auto metrics = testing::http_request("GET", agent.url("/metrics"));
  ASSERT_EQ(metrics.status, 200);
  dir.write("metrics.txt", metrics.body);
  std::string output;
  const int code = testing::run_command({"sh", "-c", promtool + " check metrics < " + (dir / "metrics.txt").string()},
                                        &output);
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(output, "") << output;

  // Every family the agent exposes is documented.
  const std::string docs = read_file(testing::source_dir() / "docs" / "metrics.md");
  const std::regex type_line("# TYPE ([a-z_0-9]+) ");
  for (auto it = std::sregex_iterator(metrics.body.begin(), metrics.body.end(), type_line); it != std::sregex_iterator();
       ++it) {
    EXPECT_NE(docs.find("`" + (*it)[1].str() + "`"), std::string::npos) << (*it)[1] << " is not in docs/metrics.md";
  }
}

TEST(AgentCli, ConfigCheckExitCodes) {
  testing::TempDir dir;
  dir.write("good.yml", "global:\n  interval: 1m\n");
  dir.write("bad.yml", "global:\n  interval: 1m\n  timeout: 2m\nhealth: {}\n");
  std::string output;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--config.file", (dir / "good.yml").string()},
                                 &output),
            0)
      << output;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--config.file", (dir / "bad.yml").string()},
                                 &output),
            2);
  const std::string bad = (dir / "bad.yml").string();
  EXPECT_NE(output.find(bad + ":3:12: global.timeout: must be shorter than interval (2m >= 1m)"), std::string::npos)
      << output;
  EXPECT_NE(output.find(bad + ":4:9: health: must be a list of checks"), std::string::npos) << output;
  EXPECT_NE(output.find("2 errors in the configuration"), std::string::npos) << output;
  // The daemon refuses the same file with the same code.
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "--config.file", bad}, &output), 2);
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "--no-such-flag"}, &output), 2);
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "--version"}, &output), 0);
  EXPECT_NE(output.find("0.1.0"), std::string::npos);
}

// Issue 11: the web config is checked as the main file is, alone or beside it, and the
// daemon refuses a bad one with the same code.
TEST(AgentCli, ConfigCheckTakesTheWebConfig) {
  testing::TempDir dir;
  dir.write("good.yml", "global:\n  interval: 1m\n");
  dir.write("web.yml", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n");
  dir.write("bad-web.yml", "basic_auth_users:\n  alice: not-a-hash-secret\ntls_server_config: {cert_file: /x}\n");
  const std::string web = (dir / "web.yml").string();
  const std::string bad_web = (dir / "bad-web.yml").string();
  std::string output;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--web.config.file", web}, &output), 0)
      << output;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--config.file",
                                  (dir / "good.yml").string(), "--web.config.file", web},
                                 &output),
            0)
      << output;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--web.config.file", bad_web}, &output), 2);
  EXPECT_NE(output.find(bad_web + ":2:10: basic_auth_users.alice: must be a bcrypt hash"), std::string::npos) << output;
  EXPECT_NE(output.find(bad_web + ":3:20: tls_server_config.key_file: is required"), std::string::npos) << output;
  EXPECT_EQ(output.find("not-a-hash-secret"), std::string::npos) << "a password reached a message";
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "--config.file", (dir / "good.yml").string(),
                                  "--web.config.file", bad_web, "--web.listen-address", "127.0.0.1:0"},
                                 &output),
            2);
}

// Issue 13, item 8: config check read the secret files, so the shipped examples could not
// be validated away from their host. Issue 12: the host's example, as the package installs
// it, passes on a fresh host; the compose example names Docker secrets this host lacks.
TEST(AgentCli, SyntaxOnlyChecksTheShippedExamplesAwayFromTheirHost) {
  for (const char* example : {"deploy/assets-agent.yml", "deploy/compose/assets-agent.yml"}) {
    const std::string path = (testing::source_dir() / example).string();
    std::string output;
    EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--syntax-only", "--config.file", path},
                                   &output),
              0)
        << example << ": " << output;
  }
  std::string output;
  const std::string host_example = (testing::source_dir() / "deploy/assets-agent.yml").string();
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--config.file", host_example}, &output),
            0)
      << output;
  const std::string compose_example = (testing::source_dir() / "deploy/compose/assets-agent.yml").string();
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--config.file", compose_example},
                                 &output),
            2)
      << "names secrets under /run/secrets, which this host does not have: " << output;
  testing::TempDir dir;
  dir.write("bad.yml", "health:\n  - name: db\n    kind: postgres\n    password_file: /run/secrets/x\n    port: 0\n");
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "config", "check", "--syntax-only", "--config.file",
                                  (dir / "bad.yml").string()},
                                 &output),
            2)
      << "everything but the named files is still checked: " << output;
}

// Issue 13, item 11: `check` printed the collectors' level=warn lines next to its table.
TEST(AgentCli, CheckPrintsItsTableWithoutTheCollectorsWarnings) {
  testing::TempDir dir;
  dir.write("agent.yml", "health:\n  - name: redis\n    kind: tcp\n    address: 127.0.0.1:" +
                             std::to_string(testing::free_tcp_port()) + "\n    timeout: 1s\n");
  std::string output;
  std::string errors;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "check", "--config.file", (dir / "agent.yml").string()},
                                 &output, {.directory = {}, .error_output = &errors}),
            1)
      << output;
  EXPECT_NE(output.find("redis"), std::string::npos) << output;
  EXPECT_EQ(errors, "");
}

TEST(AgentCli, CheckWithNothingToCheckPasses) {
  testing::TempDir dir;
  dir.write("empty.yml", "global:\n  interval: 1m\n");
  std::string output;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "check", "--config.file", (dir / "empty.yml").string()}, &output),
            0)
      << output;
  EXPECT_NE(output.find("0 targets, 0 down"), std::string::npos) << output;
}

// Listens on 127.0.0.1:port from `after` on, as a service that a deploy restarts comes back.
class LateListener {
 public:
  LateListener(int port, std::chrono::milliseconds after)
      : thread_([this, port, after] {
          std::this_thread::sleep_for(after);
          fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          const int yes = 1;
          setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
          sockaddr_in address{};
          address.sin_family = AF_INET;
          address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          address.sin_port = htons(static_cast<std::uint16_t>(port));
          listening_ = bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 && listen(fd_, 16) == 0;
        }) {}
  ~LateListener() {
    thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  LateListener(const LateListener&) = delete;
  LateListener& operator=(const LateListener&) = delete;
  bool listening() const { return listening_; }

 private:
  int fd_ = -1;
  bool listening_ = false;
  std::thread thread_;
};

std::string tcp_check_config(int port) {
  return "health:\n  - name: backend\n    kind: tcp\n    address: 127.0.0.1:" + std::to_string(port) +
         "\n    timeout: 1s\n";
}

TEST(AgentCli, CheckWaitRetriesUntilEveryTargetPasses) {
  testing::TempDir dir;
  const int port = testing::free_tcp_port();
  dir.write("agent.yml", tcp_check_config(port));
  LateListener backend(port, std::chrono::milliseconds(3000));
  std::string output;
  std::string progress;
  const auto start = std::chrono::steady_clock::now();
  const int code = testing::run_command(
      {testing::agent_binary(), "check", "--wait", "30s", "--config.file", (dir / "agent.yml").string()}, &output,
      {.directory = {}, .error_output = &progress});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(code, 0) << output << progress;
  EXPECT_TRUE(backend.listening());
  EXPECT_GE(took, 2.5);
  EXPECT_LT(took, 15.0) << "it stops retrying once everything passes";
  EXPECT_NE(progress.find("attempt 1: 1 of 1 targets down; again in 2s"), std::string::npos) << progress;
  EXPECT_NE(output.find("passed after "), std::string::npos) << output;
  EXPECT_NE(output.find(" attempts in "), std::string::npos) << output;
  EXPECT_NE(output.find("1 targets, 0 down"), std::string::npos) << output;
}

TEST(AgentCli, CheckWaitGivesUpWhenItsTimeIsUp) {
  testing::TempDir dir;
  dir.write("agent.yml", tcp_check_config(testing::free_tcp_port()));
  std::string output;
  std::string progress;
  const auto start = std::chrono::steady_clock::now();
  const int code = testing::run_command({testing::agent_binary(), "check", "--wait", "5s", "--format", "json",
                                         "--config.file", (dir / "agent.yml").string()},
                                        &output, {.directory = {}, .error_output = &progress});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(code, 1) << output;
  // No attempt starts after the wait; the last takes at most the check's 1s timeout.
  EXPECT_LT(took, 5.0 + 1.0 + 1.5);
  const auto document = nlohmann::json::parse(output);
  EXPECT_FALSE(document["success"].get<bool>());
  EXPECT_GE(document["attempts"].get<int>(), 2);
  EXPECT_EQ(document["targets"][0]["reason"], "refused");
}

TEST(AgentCli, CheckOnlyRunsTheNamedCollectors) {
  testing::TempDir dir;
  dir.write("secret", "never read");
  dir.write("agent.yml", tcp_check_config(testing::free_tcp_port()) + "credentials:\n  files:\n    - {name: secret, path: " +
                             (dir / "secret").string() + "}\n");
  const std::string config = (dir / "agent.yml").string();
  std::string output;
  std::string errors;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "check", "--only", "credentials", "--config.file", config},
                                 &output),
            0)
      << output;
  EXPECT_EQ(output.find("backend"), std::string::npos) << output;
  EXPECT_NE(output.find("1 targets, 0 down"), std::string::npos) << output;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "check", "--only", "health,credentials", "--config.file", config},
                                 &output),
            1)
      << output;
  EXPECT_NE(output.find("2 targets, 1 down"), std::string::npos) << output;
  // A collector the config does not enable, and one that does not exist: usage errors.
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "check", "--only", "containers", "--config.file", config},
                                 &output, {.directory = {}, .error_output = &errors}),
            2);
  EXPECT_NE(errors.find("the configuration does not enable the containers collector"), std::string::npos) << errors;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "check", "--only", "dns", "--config.file", config}, &output,
                                 {.directory = {}, .error_output = &errors}),
            2);
  EXPECT_NE(errors.find("--only"), std::string::npos) << errors;
}

TEST(AgentCli, MaintenanceStartStatusAndEnd) {
  testing::TempDir dir;
  const std::string state = (dir / "state/maintenance.json").string();
  dir.write("agent.yml", "maintenance:\n  state_file: " + state + "\n");
  const std::string config = (dir / "agent.yml").string();
  std::string output;
  std::string errors;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "maintenance", "status", "--config.file", config}, &output), 0);
  EXPECT_EQ(output, "no maintenance window\n");
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "maintenance", "start", "--for", "30m", "--reason",
                                  "deploy 1a2b3c", "--config.file", config},
                                 &output),
            0)
      << output;
  EXPECT_NE(output.find("open, 30m left (deploy 1a2b3c)"), std::string::npos) << output;
  struct stat status {};
  ASSERT_EQ(stat(state.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0644u) << "the agent's own user reads it";
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "maintenance", "status", "--state-file", state}, &output), 0);
  EXPECT_NE(output.find("maintenance window open, 29m"), std::string::npos) << output;
  // The running agent sees it at its next run.
  testing::AgentProcess agent(dir / "agent.log", {"--config.file", config});
  ASSERT_GT(agent.port(), 0) << agent.log();
  EXPECT_TRUE(testing::eventually(
      [&] {
        return testing::http_request("GET", agent.url("/metrics")).body.find("assets_maintenance_active 1") !=
               std::string::npos;
      },
      10s))
      << testing::http_request("GET", agent.url("/metrics")).body;

  EXPECT_EQ(testing::run_command({testing::agent_binary(), "maintenance", "end", "--config.file", config}, &output), 0);
  EXPECT_NE(access(state.c_str(), F_OK), 0);
  // Longer than a day, or no --for: refused.
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "maintenance", "start", "--for", "25h", "--state-file", state},
                                 &output, {.directory = {}, .error_output = &errors}),
            2);
  EXPECT_NE(errors.find("at most 1d"), std::string::npos) << errors;
  EXPECT_EQ(testing::run_command({testing::agent_binary(), "maintenance", "start", "--state-file", state}, &output,
                                 {.directory = {}, .error_output = &errors}),
            2);
}

}  // namespace
}  // namespace assets
