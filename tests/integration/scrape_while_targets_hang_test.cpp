// The promise of the design, on the real binary: while 50 HTTP and 10 TCP checks hang on
// a server that accepts and never answers, every scrape of /metrics answers in < 50 ms.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/health_servers.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;

TEST(ScrapeWhileTargetsHang, FiftyHangingChecksNeverDelayAScrape) {
  testing::LoopbackServer silent(testing::LoopbackServer::Mode::silent);
  testing::TempDir dir;
  std::string config = "global:\n  interval: 5s\n  timeout: 3s\nhealth:\n";
  for (int i = 0; i < 50; ++i) {
    config += "  - {name: http-" + std::to_string(i) + ", kind: http, url: \"http://" + silent.address() +
              "/\", timeout: 3s}\n";
  }
  for (int i = 0; i < 10; ++i) {
    config += "  - {name: tcp-" + std::to_string(i) + ", kind: tcp, address: \"" + silent.address() +
              "\", expect: \"^ok\", timeout: 3s}\n";
  }
  dir.write("agent.yml", config);
  testing::AgentProcess agent(dir / "agent.log", {"--config.file", (dir / "agent.yml").string()});
  ASSERT_GT(agent.port(), 0) << agent.log();
  const std::string url = agent.url("/metrics");

  // Wait until the checks are connected and hanging, then scrape through the hang.
  ASSERT_TRUE(testing::eventually([&] { return silent.connections() >= 60; }, 3s));
  auto slowest = std::chrono::steady_clock::duration::zero();
  for (int i = 0; i < 100; ++i) {
    const auto started = std::chrono::steady_clock::now();
    const auto response = testing::http_request("GET", url, {"Accept-Encoding: gzip"});
    const auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(response.status, 200) << response.error;
    slowest = std::max(slowest, elapsed);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_LT(slowest, 50ms) << "slowest scrape took "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() << " ms";
  // And the checks did hang all that time: none has finished its first run yet, or all timed out.
  const auto body = testing::http_request("GET", url).body;
  if (body.find("assets_collector_success{collector=\"health\"}") != std::string::npos) {
    EXPECT_NE(body.find("assets_check_failure{check=\"http-0\",reason=\"timeout\"} 1"), std::string::npos) << body;
  }
}

}  // namespace
}  // namespace assets
