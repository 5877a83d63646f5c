#include "agent/agent.h"

#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include "tests/support/fake_collector.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;

testing::FakeBehaviour g_behaviour;

// A fake collector under the `health` key: a non-empty list enables it, and its text is its
// settings, so a test switches it, and changes it, by config. It runs on global's schedule.
struct FakeSection : CollectorSection {
  std::string text;
  bool operator==(const FakeSection&) const = default;
};

std::shared_ptr<const FakeSection> decode_fake(const SectionInput& input) {
  if (!input.node.IsSequence() || input.node.size() == 0) return nullptr;
  auto section = std::make_shared<FakeSection>();
  section->interval = input.global.interval;
  section->timeout = input.global.timeout;
  section->text = YAML::Dump(input.node);
  return section;
}

std::unique_ptr<Collector> make_fake(const FakeSection&) {
  return std::make_unique<testing::FakeCollector>("assets_test_fake", g_behaviour);
}

constexpr CollectorKind kFakeRegistry[] = {collector_kind<FakeSection, decode_fake, make_fake>("health")};

const char* kGoodConfig = R"(global:
  interval: 200ms
  timeout: 100ms
health:
  - name: api
    kind: http
    url: http://127.0.0.1:1/
)";

using testing::eventually;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_behaviour.runs = 0;
    g_behaviour.constructed = 0;
    g_behaviour.hang = false;
    g_behaviour.ignore_stop = false;
    dir_.write("agent.yml", kGoodConfig);
    AgentOptions options;
    options.config_file = (dir_ / "agent.yml").string();
    options.web.listen_addresses = {"127.0.0.1:0"};
    options.web.enable_lifecycle = true;
    options.max_start_jitter = 0ms;
    agent_ = std::make_unique<Agent>(kFakeRegistry, options);
    agent_->start();
    base_ = "http://127.0.0.1:" + std::to_string(agent_->ports().at(0));
  }
  void TearDown() override {
    g_behaviour.release_all();
    EXPECT_TRUE(agent_->stop(2s));
  }

  testing::TempDir dir_;
  std::unique_ptr<Agent> agent_;
  std::string base_;
};

TEST_F(AgentTest, EndpointsAnswerWithTheRightStatusAndType) {
  ASSERT_TRUE(eventually([&] { return testing::http_request("GET", base_ + "/-/ready").status == 200; }));

  auto metrics = testing::http_request("GET", base_ + "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("assets_test_fake{run=\"x\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("assets_agent_config_last_reload_successful 1"), std::string::npos);

  auto gzipped = testing::http_request("GET", base_ + "/metrics", {"Accept-Encoding: gzip"});
  EXPECT_EQ(gzipped.status, 200);
  EXPECT_EQ(gzipped.content_encoding, "gzip");
  EXPECT_NE(testing::gunzip(gzipped.body).find("# TYPE assets_collector_success gauge"), std::string::npos);

  EXPECT_EQ(testing::http_request("HEAD", base_ + "/metrics").status, 200);
  auto healthz = testing::http_request("GET", base_ + "/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok\n");
  auto page = testing::http_request("GET", base_ + "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("assets_test_fake"), std::string::npos);

  EXPECT_EQ(testing::http_request("GET", base_ + "/nothing-here").status, 404);
  EXPECT_EQ(testing::http_request("POST", base_ + "/metrics").status, 405);
  EXPECT_EQ(testing::http_request("GET", base_ + "/-/reload").status, 405);
  EXPECT_EQ(testing::http_request("DELETE", base_ + "/healthz").status, 405);
}

TEST_F(AgentTest, BadReloadKeepsTheRunningConfiguration) {
  ASSERT_TRUE(eventually([&] { return g_behaviour.runs >= 1; }));
  dir_.write("agent.yml", "global:\n  interval: soon\n");
  auto reload = testing::http_request("POST", base_ + "/-/reload");
  EXPECT_EQ(reload.status, 500);
  // Defect 9: the errors (which may quote expanded environment values) go to the log only.
  EXPECT_EQ(reload.body, "configuration rejected (1 error, see the agent's log); the running configuration stays\n");

  const int runs_after_bad_reload = g_behaviour.runs;
  EXPECT_TRUE(eventually([&] { return g_behaviour.runs >= runs_after_bad_reload + 2; }))
      << "the old configuration's collector stopped running";
  auto metrics = testing::http_request("GET", base_ + "/metrics");
  EXPECT_NE(metrics.body.find("assets_agent_config_last_reload_successful 0"), std::string::npos);
  EXPECT_NE(metrics.body.find("assets_test_fake"), std::string::npos);

  dir_.write("agent.yml", kGoodConfig);
  EXPECT_EQ(testing::http_request("POST", base_ + "/-/reload").status, 200);
  metrics = testing::http_request("GET", base_ + "/metrics");
  EXPECT_NE(metrics.body.find("assets_agent_config_last_reload_successful 1"), std::string::npos);
}

TEST_F(AgentTest, ReloadThatDisablesACollectorDropsItsMetrics) {
  ASSERT_TRUE(eventually([&] { return g_behaviour.runs >= 1; }));
  dir_.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\n");
  EXPECT_EQ(testing::http_request("POST", base_ + "/-/reload").status, 200);
  const auto metrics = testing::http_request("GET", base_ + "/metrics");
  EXPECT_EQ(metrics.body.find("assets_test_fake"), std::string::npos);
  EXPECT_EQ(testing::http_request("GET", base_ + "/-/ready").status, 200);
}

// Defect 8: every reload rebuilt every collector and dropped its caches.
TEST_F(AgentTest, ReloadKeepsACollectorWhoseSettingsDidNotChange) {
  ASSERT_TRUE(eventually([&] { return g_behaviour.runs >= 1; }));
  ASSERT_EQ(g_behaviour.constructed, 1);
  EXPECT_EQ(testing::http_request("POST", base_ + "/-/reload").status, 200);
  EXPECT_EQ(g_behaviour.constructed, 1) << "an unchanged section rebuilt its collector";

  dir_.write("agent.yml", std::string(kGoodConfig) + "  - name: db\n    kind: tcp\n    address: 127.0.0.1:2\n");
  EXPECT_EQ(testing::http_request("POST", base_ + "/-/reload").status, 200);
  EXPECT_EQ(g_behaviour.constructed, 2) << "a changed section kept its old collector";
}

// Defect 4: a collector stuck in a call that ignores its stop token held a reload (and a
// SIGTERM during it) for as long as it was stuck.
TEST_F(AgentTest, ReloadAndStopDoNotWaitForAStuckCollector) {
  ASSERT_TRUE(eventually([&] { return g_behaviour.runs >= 1; }));
  g_behaviour.ignore_stop = true;
  g_behaviour.hang = true;
  ASSERT_TRUE(eventually([&] { return g_behaviour.runs >= 2; }));  // now stuck in its run

  dir_.write("agent.yml", std::string(kGoodConfig) + "  - name: db\n    kind: tcp\n    address: 127.0.0.1:2\n");
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> reloads;
  std::atomic<int> answered{0};
  for (int i = 0; i < 4; ++i) {
    reloads.emplace_back([&] {
      if (testing::http_request("POST", base_ + "/-/reload").status == 200) ++answered;
    });
  }
  // Scrapes go on while the reloads wait for the stuck driver.
  const auto scrape_started = std::chrono::steady_clock::now();
  EXPECT_EQ(testing::http_request("GET", base_ + "/metrics").status, 200);
  // Generous for a unit test under sanitizers; the 50 ms bound is agent_limits_test's, on the real binary.
  EXPECT_LT(std::chrono::steady_clock::now() - scrape_started, 250ms);
  for (auto& reload : reloads) reload.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(answered, 4);
  ASSERT_TRUE(eventually([&] { return g_behaviour.runs >= 3; }));  // the replacement runs (and hangs too)

  // A reload that is itself waiting for the stuck driver does not hold up stop().
  dir_.write("agent.yml", kGoodConfig);
  std::thread pending([&] { agent_->reload(); });
  std::this_thread::sleep_for(100ms);
  started = std::chrono::steady_clock::now();
  EXPECT_FALSE(agent_->stop(500ms)) << "stuck runs still run";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  g_behaviour.release_all();
  pending.join();
}

TEST(AgentStart, ConfigErrorsAreTyped) {
  testing::TempDir dir;
  dir.write("bad.yml", "global:\n  timeout: 1m\n");
  AgentOptions options;
  options.config_file = (dir / "bad.yml").string();
  options.web.listen_addresses = {"127.0.0.1:0"};
  Agent agent(kFakeRegistry, options);
  try {
    agent.start();
    FAIL() << "expected ConfigLoadError";
  } catch (const ConfigLoadError& e) {
    EXPECT_EQ(e.exit_code(), kExitConfigError);
    ASSERT_EQ(e.errors().size(), 1U);
    EXPECT_EQ(e.errors()[0].path, "global.timeout");
  }
}

TEST(AgentStart, ListenFailureIsAStartupError) {
  WebOptions taken;
  taken.listen_addresses = {"127.0.0.1:0"};
  Store store(1);
  WebServer first(taken, store, [] { return ReloadOutcome{}; });
  testing::TempDir dir;
  dir.write("agent.yml", kGoodConfig);  // the fake registry knows no other section
  AgentOptions options;
  options.config_file = (dir / "agent.yml").string();
  options.web.listen_addresses = {"127.0.0.1:" + std::to_string(first.ports().at(0))};
  Agent agent(kFakeRegistry, options);
  try {
    agent.start();
    FAIL() << "expected StartupError";
  } catch (const StartupError& e) {
    EXPECT_EQ(e.exit_code(), kExitStartupError);
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:"), std::string::npos);
  }
}

TEST(WebHelpers, AcceptEncodingAndListenAddresses) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("identity"));
  // Defect 14: a prefix was enough, and "*" overrode an explicit refusal.
  EXPECT_FALSE(accepts_gzip("gzipfoo"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0, *"));
  EXPECT_FALSE(accepts_gzip("*;q=0"));
  EXPECT_TRUE(accepts_gzip("identity;q=1, *;q=0.1"));
  EXPECT_TRUE(accepts_gzip("GZIP ; Q=0.5"));
  EXPECT_TRUE(accepts_gzip("x-gzip"));
  EXPECT_FALSE(accepts_gzip("gzip;q=abc"));
  EXPECT_EQ(to_civetweb_port(":9842"), "9842");
  EXPECT_EQ(to_civetweb_port("127.0.0.1:0"), "127.0.0.1:0");
}

}  // namespace
}  // namespace assets
