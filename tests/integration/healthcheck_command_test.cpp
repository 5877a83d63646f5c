// `assets-agent healthcheck`, the image's HEALTHCHECK: the real binary against the real
// agent (plain and TLS) and against loopback servers that redirect, flood or never answer.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "tests/e2e/loopback_http_server.h"
#include "tests/integration/health_servers.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;

using testing::AgentProcess;

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr
};

Outcome healthcheck(const std::vector<std::string>& args) {
  std::vector<std::string> argv{testing::agent_binary(), "healthcheck"};
  argv.insert(argv.end(), args.begin(), args.end());
  Outcome outcome;
  outcome.code = testing::run_command(argv, &outcome.output);
  return outcome;
}

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

TEST(HealthcheckCommand, PassesOnTheAgentsHealthzAndFailsOnceItIsGone) {
  testing::TempDir dir;
  AgentProcess agent(dir / "agent.log", {});
  ASSERT_GT(agent.port(), 0) << agent.log();
  const std::string url = agent.url("/healthz");

  const Outcome healthy = healthcheck({"--url", url});
  EXPECT_EQ(healthy.code, 0) << healthy.output;
  EXPECT_EQ(healthy.output, "healthy: HTTP 200 from " + url + "\n");
  const Outcome missing = healthcheck({"--url", agent.url("/missing")});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.output, "unhealthy: HTTP 404 from " + agent.url("/missing") + ": not found\n");

  ASSERT_NE(agent.process().stop(SIGTERM, 5s), -1);
  const Outcome gone = healthcheck({"--url", url});
  EXPECT_EQ(gone.code, 1);
  EXPECT_EQ(gone.output.rfind("unhealthy: " + url + ": ", 0), 0U) << gone.output;
  EXPECT_EQ(lines(gone.output), 1U) << gone.output;
}

TEST(HealthcheckCommand, FollowsNoRedirect) {
  std::mutex mutex;
  std::vector<std::string> paths;
  testing::LoopbackHttpServer server([&](const testing::HttpExchange& exchange) {
    std::lock_guard lock(mutex);
    paths.push_back(exchange.path);
    testing::HttpReply reply;
    if (exchange.path == "/healthz") {
      reply.status = 302;
      reply.headers = {{"Location", "/elsewhere"}};
    }
    return reply;
  });
  ASSERT_TRUE(server.start());
  const Outcome outcome = healthcheck({"--url", server.url("/healthz")});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(outcome.output, "unhealthy: HTTP 302 from " + server.url("/healthz") + " (redirects are not followed)\n");
  std::lock_guard lock(mutex);
  EXPECT_EQ(paths, std::vector<std::string>{"/healthz"});
}

TEST(HealthcheckCommand, StopsReadingABodyPastItsLimit) {
  testing::LoopbackHttpServer server([](const testing::HttpExchange&) {
    testing::HttpReply reply;
    reply.body.assign(1 << 20, 'x');
    return reply;
  });
  ASSERT_TRUE(server.start());
  const Outcome outcome = healthcheck({"--url", server.url("/healthz")});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(outcome.output, "unhealthy: " + server.url("/healthz") + ": the body is over 64KiB, not a health endpoint's\n");
}

TEST(HealthcheckCommand, NamesTheWebConfigKeyOnA401) {
  testing::LoopbackHttpServer server([](const testing::HttpExchange&) {
    testing::HttpReply reply;
    reply.status = 401;
    reply.body = "unauthorized\n";
    return reply;
  });
  ASSERT_TRUE(server.start());
  const Outcome outcome = healthcheck({"--url", server.url("/healthz")});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(outcome.output, "unhealthy: HTTP 401 from " + server.url("/healthz") +
                                ": unauthorized (list the path in the web config's unauthenticated_paths)\n");
}

TEST(HealthcheckCommand, GivesUpAfterItsTimeout) {
  testing::LoopbackServer silent(testing::LoopbackServer::Mode::silent);
  const auto started = std::chrono::steady_clock::now();
  const Outcome outcome = healthcheck({"--url", "http://" + silent.address() + "/healthz", "--timeout", "500ms"});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.output.find("timed out"), std::string::npos) << outcome.output;
  EXPECT_EQ(lines(outcome.output), 1U) << outcome.output;
}

// An agent that serves TLS has a certificate for the host's name, from a CA the container
// may not carry: --tls.insecure-skip-verify is the way to ask it on 127.0.0.1.
TEST(HealthcheckCommand, AsksATlsAgentWithInsecureSkipVerify) {
  testing::TempDir dir;
  testing::TestPki pki(dir.path());
  pki.issue("agent", {.common_name = "assets.example.com", .dns_names = {"assets.example.com"}});
  dir.write("web.yml", "tls_server_config:\n  cert_file: " + pki.cert("agent").string() +
                           "\n  key_file: " + pki.key("agent").string() + "\n");
  AgentProcess agent(dir / "agent.log", {"--web.config.file", (dir / "web.yml").string()});
  ASSERT_GT(agent.port(), 0) << agent.log();
  const std::string url = "https://127.0.0.1:" + std::to_string(agent.port()) + "/healthz";

  const Outcome verified = healthcheck({"--url", url});
  EXPECT_EQ(verified.code, 1);
  EXPECT_EQ(verified.output.rfind("unhealthy: " + url + ": ", 0), 0U) << verified.output;
  const Outcome skipped = healthcheck({"--url", url, "--tls.insecure-skip-verify"});
  EXPECT_EQ(skipped.code, 0) << skipped.output;
  EXPECT_EQ(skipped.output, "healthy: HTTP 200 from " + url + "\n");
}

TEST(HealthcheckCommand, UsageErrorsExitWithOneAsDockerAsks) {
  EXPECT_EQ(healthcheck({"--timeout", "0s"}).code, 1);
  EXPECT_EQ(healthcheck({"--no-such-flag"}).code, 1);
  EXPECT_EQ(healthcheck({"--help"}).code, 0);
}

}  // namespace
}  // namespace assets
