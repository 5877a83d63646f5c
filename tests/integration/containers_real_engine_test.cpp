// The containers collector against real Docker-compatible engines: every test runs once
// against Podman's API service (ctest: ContainersRealEngine.<test><assets::testing::PodmanEngine>)
// and once against Debian's Docker Engine (…<assets::testing::DockerEngine>), each on a
// temp socket of its own, with real busybox containers that the fixture removes by ID.
// Where the engines differ in how a test drives them (running a health check now), the
// engine classes in tests/support/ handle it; the assertions are the same for both.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "collectors/containers/containers.h"
#include "tests/support/collect_result.h"
#include "tests/support/docker_engine.h"
#include "tests/support/podman_engine.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;
using containers::EngineReply;
using testing::LabelSet;

std::optional<double> value(const CollectResult& result, const std::string& name, const LabelSet& labels = {}) {
  return testing::sample_value(result, name, labels);
}
std::size_t samples(const CollectResult& result, const std::string& name) { return testing::sample_count(result, name); }

// The real transport, recording what it sends and able to act just before an inspection.
class RecordingTransport final : public containers::EngineTransport {
 public:
  using Hook = std::function<void(const std::string& target)>;
  RecordingTransport(std::unique_ptr<containers::EngineTransport> inner, std::shared_ptr<std::vector<std::string>> log,
                     Hook before = {})
      : inner_(std::move(inner)), log_(std::move(log)), before_(std::move(before)) {}
  EngineReply get(const std::string& target, Duration timeout, std::size_t max_body_bytes, std::stop_token stop) override {
    {
      std::lock_guard lock(mutex_);
      log_->push_back(target);
    }
    if (before_) before_(target);
    return inner_->get(target, timeout, max_body_bytes, stop);
  }
  std::string endpoint() const override { return inner_->endpoint(); }

 private:
  std::unique_ptr<containers::EngineTransport> inner_;
  std::shared_ptr<std::vector<std::string>> log_;
  Hook before_;
  std::mutex mutex_;
};

std::size_t inspections(const std::vector<std::string>& log) {
  return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [](const std::string& target) {
    return target.find("/containers/") != std::string::npos && target.find("/containers/json") == std::string::npos;
  }));
}

CollectContext context_with(std::chrono::milliseconds budget = 10s) {
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + budget;
  return context;
}

template <typename Engine>
class ContainersRealEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSETS_REQUIRE_COMPONENT(engine_.start(), std::string(Engine::kName) + " engine: " + engine_.error());
  }

  ContainersConfig config() const {
    ContainersConfig config;
    config.socket = engine_.socket_path();
    return config;
  }

  std::unique_ptr<ContainersCollector> collector(ContainersConfig config, RecordingTransport::Hook before = {}) {
    auto transport = std::make_unique<RecordingTransport>(containers::make_curl_transport(config), requests_,
                                                          std::move(before));
    return std::make_unique<ContainersCollector>(std::move(config), std::move(transport));
  }

  std::string run(const std::vector<std::string>& options, const std::vector<std::string>& command) {
    const std::string id = engine_.run(options, command);
    EXPECT_FALSE(id.empty()) << engine_.error();
    return id;
  }

  Engine engine_;
  std::shared_ptr<std::vector<std::string>> requests_ = std::make_shared<std::vector<std::string>>();
};

// No name generator: CMake 3.25's gtest_discover_tests names typed tests well
// (ContainersRealEngine.Test<assets::testing::DockerEngine>) only for gtest's own numbered
// suites (ContainersRealEngine/1).
using RealEngines = ::testing::Types<testing::PodmanEngine, testing::DockerEngine>;
TYPED_TEST_SUITE(ContainersRealEngine, RealEngines);

TYPED_TEST(ContainersRealEngine, RunningExitedCreatedAndComposeLabels) {
  this->run({"--name", "web", "--label", "com.docker.compose.project=assets", "--label",
             "com.docker.compose.service=backend"},
            {"sleep", "300"});
  const std::string failed = this->run({"--name", "migrate"}, {"sh", "-c", "exit 3"});
  ASSERT_FALSE(this->engine_.create({"--name", "fresh"}, {"sleep", "300"}).empty()) << this->engine_.error();
  ASSERT_TRUE(this->engine_.wait_for(failed, "{{.State.Status}}", "exited", 20s));

  ContainersConfig config = this->config();
  config.expected_services = {"backend", "assets/missing"};
  const CollectResult result = this->collector(config)->run(context_with());
  EXPECT_EQ(value(result, "assets_container_engine_up"), 1);
  EXPECT_EQ(value(result, "assets_container_engine_info", {{"api_version", "1.41"}}), 1);

  const LabelSet web{{"container", "web"}, {"service", "backend"}, {"project", "assets"}};
  EXPECT_EQ(value(result, "assets_container_running", web), 1);
  EXPECT_EQ(value(result, "assets_container_info",
                  {{"container", "web"}, {"service", "backend"}, {"project", "assets"},
                   {"image", testing::ContainerEngine::kImage}}),
            1);
  EXPECT_EQ(value(result, "assets_container_health_status", {{"container", "web"}, {"status", "none"}}), 1);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(*value(result, "assets_container_start_time_seconds", web), now, 120);

  const LabelSet migrate{{"container", "migrate"}, {"service", ""}, {"project", ""}};
  EXPECT_EQ(value(result, "assets_container_running", migrate), 0);
  EXPECT_EQ(value(result, "assets_container_exit_code", migrate), 3);
  EXPECT_EQ(value(result, "assets_container_state", {{"container", "migrate"}, {"state", "exited"}}), 1);
  EXPECT_EQ(value(result, "assets_container_oom_killed", migrate), 0);

  EXPECT_EQ(value(result, "assets_container_state", {{"container", "fresh"}, {"state", "created"}}), 1);
  EXPECT_FALSE(value(result, "assets_container_start_time_seconds", {{"container", "fresh"}}));

  EXPECT_EQ(value(result, "assets_container_expected_up", {{"service", "backend"}, {"project", ""}}), 1);
  EXPECT_EQ(value(result, "assets_container_expected_up", {{"service", "missing"}, {"project", "assets"}}), 0);

  // The engine's own label filter and the agent's agree.
  config.include_labels = {{"com.docker.compose.project", "assets"}};
  const CollectResult filtered = this->collector(config)->run(context_with());
  EXPECT_EQ(samples(filtered, "assets_container_info"), 1u);
  EXPECT_EQ(value(filtered, "assets_container_running", web), 1);
}

TYPED_TEST(ContainersRealEngine, HealthyAndUnhealthyBetweenTwoRuns) {
  // The checks run only when the test runs them (run_health_check), so the first run
  // sees both containers before any check.
  std::vector<std::string> good_options = this->engine_.health_check("true");
  good_options.insert(good_options.end(), {"--name", "good"});
  std::vector<std::string> bad_options = this->engine_.health_check("false");
  bad_options.insert(bad_options.end(), {"--name", "bad", "--health-retries=1"});
  const std::string good = this->run(good_options, {"sleep", "300"});
  const std::string bad = this->run(bad_options, {"sleep", "300"});
  auto collector = this->collector(this->config());
  const CollectResult before = collector->run(context_with());
  EXPECT_EQ(value(before, "assets_container_health_status", {{"container", "good"}, {"status", "starting"}}), 1);
  EXPECT_EQ(value(before, "assets_container_health_status", {{"container", "good"}, {"status", "healthy"}}), 0);

  ASSERT_TRUE(this->engine_.run_health_check(good)) << this->engine_.inspect(good, "{{json .State.Health}}");
  ASSERT_TRUE(this->engine_.run_health_check(bad)) << this->engine_.inspect(bad, "{{json .State.Health}}");
  ASSERT_TRUE(this->engine_.wait_for(bad, "{{.State.Health.Status}}", "unhealthy", 10s));
  const CollectResult after = collector->run(context_with());
  EXPECT_EQ(value(after, "assets_container_health_status", {{"container", "good"}, {"status", "healthy"}}), 1);
  EXPECT_EQ(value(after, "assets_container_health_status", {{"container", "bad"}, {"status", "unhealthy"}}), 1);
  EXPECT_EQ(value(after, "assets_container_health_status", {{"container", "bad"}, {"status", "healthy"}}), 0);
  EXPECT_EQ(value(after, "assets_container_running", {{"container", "bad"}}), 1);
}

TYPED_TEST(ContainersRealEngine, ARestartPolicyRestartsAFailingContainer) {
  const std::string flaky = this->run({"--name", "flaky", "--restart=on-failure:3"}, {"sh", "-c", "sleep 0.5; exit 1"});
  ASSERT_TRUE(this->engine_.wait_for(flaky, "{{.RestartCount}} {{.State.Status}}", "3 exited", 60s))
      << this->engine_.inspect(flaky, "{{.RestartCount}} {{.State.Status}}");
  const CollectResult result = this->collector(this->config())->run(context_with());
  EXPECT_EQ(value(result, "assets_container_restarts", {{"container", "flaky"}}), 3);
  EXPECT_EQ(value(result, "assets_container_exit_code", {{"container", "flaky"}}), 1);
}

TYPED_TEST(ContainersRealEngine, ARestartBetweenTwoRunsShowsInTheNextRun) {
  ContainersConfig config = this->config();
  config.resync_interval = 1h;  // the rolling resync must not be what finds the restart
  const std::string steady = this->run({"--name", "steady"}, {"sleep", "300"});
  // Fails (and is restarted by its policy) each time something is written to /fail; a
  // second after, so the `exec` that wrote it has ended before the container does
  // (Podman fails an exec session still open when its container exits, with 255).
  const std::string flaky = this->run({"--name", "flaky", "--restart=on-failure:10"},
                                      {"sh", "-c", "while [ ! -s /fail ]; do sleep 0.1; done; : > /fail; sleep 1; exit 1"});
  // Their creation events must lie before the first run's events window.
  std::this_thread::sleep_for(ContainersCollector::kEventsOverlap + 500ms);
  auto collector = this->collector(config);

  const CollectResult first = collector->run(context_with());
  ASSERT_EQ(value(first, "assets_container_running", {{"container", "flaky"}}), 1);
  const double first_restarts = *value(first, "assets_container_restarts", {{"container", "flaky"}});
  const double first_start = *value(first, "assets_container_start_time_seconds", {{"container", "flaky"}});

  // Wait until it has restarted and runs again: its list entry then looks as before.
  ASSERT_EQ(this->engine_.cli({"exec", flaky, "sh", "-c", "echo now > /fail"}), 0);
  const std::string next = std::to_string(static_cast<int>(first_restarts) + 1) + " running";
  ASSERT_TRUE(this->engine_.wait_for(flaky, "{{.RestartCount}} {{.State.Status}}", next, 30s))
      << this->engine_.inspect(flaky, "{{.RestartCount}} {{.State.Status}}");
  this->requests_->clear();
  const CollectResult second = collector->run(context_with());
  EXPECT_EQ(value(second, "assets_container_restarts", {{"container", "flaky"}}), first_restarts + 1);
  EXPECT_GT(*value(second, "assets_container_start_time_seconds", {{"container", "flaky"}}), first_start);
  EXPECT_EQ(value(second, "assets_container_running", {{"container", "flaky"}}), 1);
  EXPECT_EQ(std::count(this->requests_->begin(), this->requests_->end(), "/v1.41/containers/" + flaky + "/json"), 1);
  EXPECT_EQ(std::count(this->requests_->begin(), this->requests_->end(), "/v1.41/containers/" + steady + "/json"), 0);
}

TYPED_TEST(ContainersRealEngine, AContainerRemovedDuringARunIsSkipped) {
  this->run({"--name", "keeper"}, {"sleep", "300"});
  const std::string victim = this->run({"--name", "victim"}, {"sleep", "300"});
  auto collector = this->collector(this->config(), [&](const std::string& target) {
    if (target.find("/containers/" + victim + "/json") != std::string::npos) this->engine_.remove(victim);
  });
  const CollectResult result = collector->run(context_with(20s));
  EXPECT_EQ(value(result, "assets_container_engine_up"), 1);
  EXPECT_EQ(samples(result, "assets_container_engine_failure"), 0u);
  EXPECT_EQ(value(result, "assets_container_running", {{"container", "keeper"}}), 1);
  EXPECT_FALSE(value(result, "assets_container_running", {{"container", "victim"}}));
}

TYPED_TEST(ContainersRealEngine, TheEngineStoppedAndStartedAgain) {
  this->run({"--name", "web"}, {"sleep", "300"});
  auto collector = this->collector(this->config());
  EXPECT_EQ(value(collector->run(context_with()), "assets_container_engine_up"), 1);

  this->engine_.stop_service();
  const CollectResult down = collector->run(context_with());
  EXPECT_EQ(value(down, "assets_container_engine_up"), 0);
  EXPECT_EQ(value(down, "assets_container_engine_failure", {{"reason", "not_found"}}), 1);
  EXPECT_EQ(samples(down, "assets_container_info"), 0u);

  ASSERT_TRUE(this->engine_.start_service()) << this->engine_.error();
  const CollectResult up = collector->run(context_with());
  EXPECT_EQ(value(up, "assets_container_engine_up"), 1);
  EXPECT_EQ(samples(up, "assets_container_engine_failure"), 0u);
  EXPECT_EQ(value(up, "assets_container_running", {{"container", "web"}}), 1);
}

TYPED_TEST(ContainersRealEngine, FiftyContainersInOneRunAndANothingChangedRun) {
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_FALSE(this->run({"--name", "c" + n, "--label", "com.docker.compose.project=load", "--label",
                            "com.docker.compose.service=s" + n},
                           {"sleep", "600"})
                     .empty());
  }
  // The containers' creation events must lie before the first run's events window, or
  // the second run rightly inspects them again.
  std::this_thread::sleep_for(ContainersCollector::kEventsOverlap + 500ms);
  auto seconds_of = [](auto&& action) {
    const auto started = std::chrono::steady_clock::now();
    action();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };

  // resync_interval 0: every run inspects every container.
  ContainersConfig full_config = this->config();
  full_config.resync_interval = Duration(0);
  auto full = this->collector(full_config);
  CollectResult result;
  const double first_seconds = seconds_of([&] { result = full->run(context_with()); });  // also learns the version
  EXPECT_EQ(samples(result, "assets_container_info"), 50u);
  this->requests_->clear();
  const double full_seconds = seconds_of([&] { result = full->run(context_with()); });
  EXPECT_EQ(samples(result, "assets_container_info"), 50u);
  EXPECT_EQ(inspections(*this->requests_), 50u);
  EXPECT_LT(full_seconds, 3.0);  // the goal is < 1 s; generous for a loaded 2-core machine

  ContainersConfig config = this->config();
  config.resync_interval = std::chrono::minutes(5);
  auto collector = this->collector(config);
  collector->run(context_with());
  const auto after_first = std::chrono::steady_clock::now();
  this->requests_->clear();
  const double unchanged_seconds = seconds_of([&] { result = collector->run(context_with()); });
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - after_first).count();
  EXPECT_EQ(samples(result, "assets_container_info"), 50u);
  // The resync's share of a run `elapsed` seconds after the last: 50 * elapsed / 300.
  const std::size_t unchanged_inspections = inspections(*this->requests_);
  EXPECT_LE(unchanged_inspections, static_cast<std::size_t>(std::ceil(50 * elapsed / 300)));

  this->RecordProperty("first_run_seconds", std::to_string(first_seconds));
  this->RecordProperty("full_run_seconds", std::to_string(full_seconds));
  this->RecordProperty("unchanged_run_seconds", std::to_string(unchanged_seconds));
  std::cout << TypeParam::kName << ", 50 containers: first run " << first_seconds << " s, full run " << full_seconds
            << " s, unchanged run " << unchanged_seconds << " s with " << unchanged_inspections << " inspections\n";
}

template <typename Engine>
class ContainersRealEngineTcp : public ::testing::Test {};
TYPED_TEST_SUITE(ContainersRealEngineTcp, RealEngines);

TYPED_TEST(ContainersRealEngineTcp, ReadsTheEngineOverTcp) {
  TypeParam engine;
  const std::string address = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  ASSETS_REQUIRE_COMPONENT(engine.start("tcp://" + address),
                           std::string(TypeParam::kName) + " engine on tcp: " + engine.error());
  ASSERT_FALSE(engine.run({"--name", "web"}, {"sleep", "300"}).empty()) << engine.error();
  ContainersConfig config;
  config.host = "tcp://" + address;
  ContainersCollector collector(config, containers::make_curl_transport(config));
  const CollectResult result = collector.run(context_with());
  EXPECT_EQ(value(result, "assets_container_engine_up"), 1);
  EXPECT_EQ(value(result, "assets_container_running", {{"container", "web"}}), 1);
  EXPECT_EQ(result.targets.front().name, "tcp://" + address);
}

}  // namespace
}  // namespace assets
