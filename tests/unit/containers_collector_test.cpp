// The containers collector's logic against an in-memory engine that answers with recorded
// Docker responses: metrics, filters, expected services, the cap, change detection and
// every engine fault.
#include "collectors/containers/containers.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/collect_result.h"
#include "tests/support/configured_collector.h"
#include "tests/support/golden.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using containers::EngineFailure;
using containers::EngineReply;

std::string fixture(const std::string& name) {
  std::ifstream in(testing::source_dir() / "tests" / "testdata" / name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

EngineReply ok(std::string body) { return {EngineFailure::none, 200, std::move(body), {}, {}}; }
EngineReply status(long code) { return {EngineFailure::none, code, R"({"message":"boom"})", {}, {}}; }
EngineReply broken(EngineFailure failure) { return {failure, 0, {}, {}, "simulated"}; }

// The IDs of the Docker fixtures: one letter or digit repeated (see tests/testdata/docker).
std::string id_of(char c) { return std::string(64, c); }

// What the fake engine answers; the test changes it between runs.
struct EngineState {
  std::mutex mutex;
  EngineReply version = ok(fixture("docker/version.json"));
  EngineReply list = ok(fixture("docker/containers_list.json"));
  EngineReply events = ok("");
  std::map<std::string, EngineReply> inspect;  // by ID; absent IDs answer 404
  std::vector<std::string> requests;

  EngineState() {
    const std::pair<char, const char*> files[] = {
        {'a', "inspect_healthy"},   {'b', "inspect_unhealthy"},  {'c', "inspect_no_health"},
        {'d', "inspect_exited"},    {'e', "inspect_restarting"}, {'f', "inspect_paused"},
        {'0', "inspect_dead"},      {'1', "inspect_oomkilled"},  {'2', "inspect_created"}};
    for (const auto& [c, file] : files) inspect[id_of(c)] = ok(fixture(std::string("docker/") + file + ".json"));
  }

  std::size_t count(std::string_view part) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::count_if(requests.begin(), requests.end(), [&](const std::string& target) {
      return target.find(part) != std::string::npos;
    }));
  }
  void forget_requests() {
    std::lock_guard lock(mutex);
    requests.clear();
  }
};

class FakeTransport final : public containers::EngineTransport {
 public:
  explicit FakeTransport(std::shared_ptr<EngineState> state) : state_(std::move(state)) {}
  EngineReply get(const std::string& target, Duration, std::size_t, std::stop_token) override {
    std::lock_guard lock(state_->mutex);
    state_->requests.push_back(target);
    if (target == "/version") return state_->version;
    if (target.find("/containers/json") != std::string::npos) return state_->list;
    if (target.find("/events") != std::string::npos) return state_->events;
    const auto start = target.find("/containers/");
    if (start != std::string::npos) {
      const std::string id = target.substr(start + 12, 64);
      const auto it = state_->inspect.find(id);
      return it != state_->inspect.end() ? it->second : status(404);
    }
    return status(404);
  }
  std::string endpoint() const override { return "unix:///fake.sock"; }

 private:
  std::shared_ptr<EngineState> state_;
};

CollectContext context_with(std::chrono::milliseconds budget = std::chrono::seconds(10)) {
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + budget;
  return context;
}

using testing::LabelSet;

std::optional<double> value(const CollectResult& result, const std::string& name, const LabelSet& labels = {}) {
  return testing::sample_value(result, name, labels);
}
std::size_t samples(const CollectResult& result, const std::string& name) { return testing::sample_count(result, name); }

struct Harness {
  std::shared_ptr<EngineState> engine = std::make_shared<EngineState>();
  std::unique_ptr<ContainersCollector> collector;

  explicit Harness(ContainersConfig config = {}) {
    collector = std::make_unique<ContainersCollector>(std::move(config), std::make_unique<FakeTransport>(engine));
  }
  CollectResult run() { return collector->run(context_with()); }
};

// Issue 14: the collector's whole output for the recorded Docker responses, checked in.
TEST(ContainersCollector, GoldenExposition) {
  Harness harness;
  testing::expect_golden_exposition(harness.run(), "containers");
}

TEST(ContainersCollector, ReportsEveryContainerOfTheDockerFixtures) {
  Harness harness;
  const CollectResult result = harness.run();
  EXPECT_EQ(value(result, "assets_container_engine_up"), 1);
  EXPECT_EQ(value(result, "assets_container_engine_info", {{"version", "24.0.7"}, {"api_version", "1.43"}}), 1);
  EXPECT_EQ(samples(result, "assets_container_engine_failure"), 0u);
  EXPECT_EQ(samples(result, "assets_container_info"), 9u);
  EXPECT_EQ(samples(result, "assets_container_state"), 9u * 7);
  EXPECT_EQ(samples(result, "assets_container_health_status"), 9u * 4);

  const LabelSet backend{{"container", "assets-backend-1"}, {"service", "backend"}, {"project", "assets"}};
  EXPECT_EQ(value(result, "assets_container_info",
                  {{"container", "assets-backend-1"}, {"service", "backend"}, {"project", "assets"},
                   {"image", "assets/backend:1.4.2"}}),
            1);
  EXPECT_EQ(value(result, "assets_container_running", backend), 1);
  EXPECT_NEAR(*value(result, "assets_container_start_time_seconds", backend), 1700000000.123456789, 1e-6);
  LabelSet healthy = backend;
  healthy["status"] = "healthy";
  EXPECT_EQ(value(result, "assets_container_health_status", healthy), 1);
  healthy["status"] = "none";
  EXPECT_EQ(value(result, "assets_container_health_status", healthy), 0);

  EXPECT_EQ(value(result, "assets_container_health_status", {{"container", "assets-worker-1"}, {"status", "unhealthy"}}),
            1);
  EXPECT_EQ(value(result, "assets_container_exit_code", {{"container", "assets-migrate-1"}}), 3);
  EXPECT_EQ(value(result, "assets_container_state", {{"container", "assets-migrate-1"}, {"state", "exited"}}), 1);
  EXPECT_EQ(value(result, "assets_container_state", {{"container", "assets-migrate-1"}, {"state", "running"}}), 0);
  EXPECT_EQ(value(result, "assets_container_restarts", {{"container", "assets-queue-1"}}), 17);
  EXPECT_EQ(value(result, "assets_container_state", {{"container", "assets-queue-1"}, {"state", "restarting"}}), 1);
  EXPECT_EQ(value(result, "assets_container_state", {{"container", "assets-report-1"}, {"state", "paused"}}), 1);
  EXPECT_EQ(value(result, "assets_container_running", {{"container", "assets-report-1"}}), 0);
  EXPECT_EQ(value(result, "assets_container_state", {{"container", "assets-cache-1"}, {"state", "dead"}}), 1);
  EXPECT_EQ(value(result, "assets_container_oom_killed", {{"container", "assets-db-1"}}), 1);
  EXPECT_EQ(value(result, "assets_container_oom_killed", {{"container", "assets-backend-1"}}), 0);
  EXPECT_EQ(value(result, "assets_container_state", {{"container", "scratchpad"}, {"service", ""}, {"project", ""},
                                                      {"state", "created"}}),
            1);
  EXPECT_FALSE(value(result, "assets_container_start_time_seconds", {{"container", "scratchpad"}}));

  ASSERT_FALSE(result.targets.empty());
  EXPECT_EQ(result.targets.front().kind, "engine");
  EXPECT_TRUE(result.targets.front().up);
  const auto migrate = std::find_if(result.targets.begin(), result.targets.end(),
                                    [](const TargetStatus& t) { return t.name == "assets-migrate-1"; });
  ASSERT_NE(migrate, result.targets.end());
  EXPECT_FALSE(migrate->up);
  EXPECT_EQ(migrate->reason, "exited");
  EXPECT_EQ(migrate->detail, "exited with code 3");
  std::map<std::string, std::string> reasons;
  for (const auto& target : result.targets) {
    if (target.kind == "container") reasons[target.name] = target.reason;
  }
  EXPECT_EQ(reasons, (std::map<std::string, std::string>{{"assets-backend-1", ""},
                                                         {"assets-cache-1", "dead"},
                                                         {"assets-db-1", "oom_killed"},
                                                         {"assets-migrate-1", "exited"},
                                                         {"assets-proxy-1", ""},
                                                         {"assets-queue-1", "restarting"},
                                                         {"assets-report-1", "paused"},
                                                         {"assets-worker-1", "unhealthy"},
                                                         {"scratchpad", ""}}));
}

TEST(ContainersCollector, UsesTheEngineApiVersionInEveryPath) {
  Harness harness;
  harness.run();
  std::lock_guard lock(harness.engine->mutex);
  for (const auto& target : harness.engine->requests) {
    if (target != "/version") {
      EXPECT_EQ(target.rfind("/v1.43/", 0), 0u) << target;
    }
  }
}

TEST(ContainersCollector, FiltersByNameAndLabel) {
  ContainersConfig config;
  config.include = {"assets-.*"};
  config.exclude = {".*-cache-.*"};
  config.include_labels = {{"com.docker.compose.project", "assets"}};
  config.exclude_labels = {{"com.docker.compose.service", "report"}};
  Harness harness(config);
  const CollectResult result = harness.run();
  EXPECT_EQ(samples(result, "assets_container_info"), 6u);
  EXPECT_FALSE(value(result, "assets_container_running", {{"container", "assets-cache-1"}}));
  EXPECT_FALSE(value(result, "assets_container_running", {{"container", "assets-report-1"}}));
  EXPECT_FALSE(value(result, "assets_container_running", {{"container", "scratchpad"}}));
  // Excluded containers are never inspected, and the engine is asked to filter by label.
  EXPECT_EQ(harness.engine->count("/containers/" + id_of('0')), 0u);
  EXPECT_EQ(harness.engine->count("filters=%7B%22label%22%3A%5B%22com.docker.compose.project%3Dassets%22%5D%7D"), 1u);
}

TEST(ContainersCollector, IncludeRegexesMatchTheWholeName) {
  ContainersConfig config;
  config.include = {"assets"};
  Harness harness(config);
  EXPECT_EQ(samples(harness.run(), "assets_container_info"), 0u);
}

TEST(ContainersCollector, ExpectedServices) {
  ContainersConfig config;
  config.expected_services = {"backend", "migrate", "gone", "assets/proxy", "other/proxy"};
  Harness harness(config);
  const CollectResult result = harness.run();
  EXPECT_EQ(value(result, "assets_container_expected_up", {{"service", "backend"}, {"project", ""}}), 1);
  EXPECT_EQ(value(result, "assets_container_expected_up", {{"service", "migrate"}, {"project", ""}}), 0);  // exited
  EXPECT_EQ(value(result, "assets_container_expected_up", {{"service", "gone"}, {"project", ""}}), 0);
  EXPECT_EQ(value(result, "assets_container_expected_up", {{"service", "proxy"}, {"project", "assets"}}), 1);
  EXPECT_EQ(value(result, "assets_container_expected_up", {{"service", "proxy"}, {"project", "other"}}), 0);
  const auto gone = std::find_if(result.targets.begin(), result.targets.end(),
                                 [](const TargetStatus& t) { return t.name == "gone"; });
  ASSERT_NE(gone, result.targets.end());
  EXPECT_EQ(gone->kind, "service");
  EXPECT_FALSE(gone->up);
}

TEST(ContainersCollector, ExpectedServicesTakeTheProjectOfIncludeLabels) {
  ContainersConfig config;
  config.include_labels = {{"com.docker.compose.project", "assets"}};
  config.expected_services = {"backend"};
  Harness harness(config);
  EXPECT_EQ(value(harness.run(), "assets_container_expected_up", {{"service", "backend"}, {"project", "assets"}}), 1);
}

TEST(ContainersCollector, ExpectedServiceStillAlertsWhenTheEngineListsNothing) {
  ContainersConfig config;
  config.expected_services = {"backend"};
  Harness harness(config);
  harness.engine->list = ok("[]");
  EXPECT_EQ(value(harness.run(), "assets_container_expected_up", {{"service", "backend"}}), 0);
}

TEST(ContainersCollector, CapsTheNumberOfContainers) {
  ContainersConfig config;
  config.max_containers = 3;
  config.expected_services = {"worker"};
  Harness harness(config);
  const CollectResult result = harness.run();
  EXPECT_EQ(samples(result, "assets_container_info"), 3u);
  // The first three by name.
  EXPECT_TRUE(value(result, "assets_container_info", {{"container", "assets-backend-1"}}));
  EXPECT_TRUE(value(result, "assets_container_info", {{"container", "assets-cache-1"}}));
  EXPECT_TRUE(value(result, "assets_container_info", {{"container", "assets-db-1"}}));
  EXPECT_EQ(harness.engine->count("/json") - 1, 3u);  // three inspections and the list
  // Expected services still see every container.
  EXPECT_EQ(value(result, "assets_container_expected_up", {{"service", "worker"}}), 1);
  EXPECT_NE(result.targets.front().detail.find("6 containers beyond max_containers (3)"), std::string::npos);
}

TEST(ContainersCollector, ARunWithNothingChangedInspectsAtMostTheResyncShare) {
  ContainersConfig config;
  config.resync_interval = std::chrono::minutes(5);
  Harness harness(config);
  harness.run();
  EXPECT_EQ(harness.engine->count("/containers/" + id_of('a') + "/json"), 1u);
  harness.engine->forget_requests();
  const auto between = std::chrono::steady_clock::now();
  const CollectResult second = harness.run();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - between).count();
  // 9 containers, resync every 300 s: the share of a run `elapsed` after the last is 9 * elapsed / 300.
  const auto share = static_cast<std::size_t>(std::ceil(9 * elapsed / 300));
  EXPECT_LE(harness.engine->count("/json") - 1, share);
  EXPECT_EQ(harness.engine->count("/events?since="), 1u);
  EXPECT_EQ(samples(second, "assets_container_info"), 9u);  // unchanged containers are still reported
  EXPECT_EQ(value(second, "assets_container_restarts", {{"container", "assets-queue-1"}}), 17);
}

TEST(ContainersCollector, ARestartSeenOnlyInEventsIsInspectedInTheNextRun) {
  Harness harness;
  const CollectResult first = harness.run();
  EXPECT_EQ(value(first, "assets_container_restarts", {{"container", "assets-proxy-1"}}), 0);

  // proxy restarted between the runs: still "running", so its list entry looks the same.
  std::string restarted = fixture("docker/inspect_no_health.json");
  restarted.replace(restarted.find("\"RestartCount\": 0"), 17, "\"RestartCount\": 1");
  restarted.replace(restarted.find("2023-11-14T22:13:20.123456789Z"), 30, "2023-11-15T00:20:00.000000000Z");
  harness.engine->inspect[id_of('c')] = ok(restarted);
  harness.engine->events = ok(fixture("docker/events.jsonl"));
  harness.engine->forget_requests();

  const CollectResult second = harness.run();
  EXPECT_EQ(value(second, "assets_container_restarts", {{"container", "assets-proxy-1"}}), 1);
  EXPECT_EQ(value(second, "assets_container_start_time_seconds", {{"container", "assets-proxy-1"}}),
            *containers::parse_timestamp("2023-11-15T00:20:00Z"));
  EXPECT_EQ(harness.engine->count("/containers/" + id_of('c') + "/json"), 1u);
  EXPECT_EQ(harness.engine->count("/containers/" + id_of('b') + "/json"), 1u);  // its health_status event
  EXPECT_EQ(harness.engine->count("/containers/" + id_of('a') + "/json"), 0u);  // health check execs only
}

TEST(ContainersCollector, AChangedListEntryIsInspectedWithoutAnEvent) {
  Harness harness;
  harness.run();
  std::string list = fixture("docker/containers_list.json");
  list.replace(list.find("Up 2 hours (healthy)"), 20, "Up 2 hours (unhealthy)");
  std::string unhealthy = fixture("docker/inspect_healthy.json");
  unhealthy.replace(unhealthy.find("\"healthy\""), 9, "\"unhealthy\"");
  harness.engine->list = ok(list);
  harness.engine->inspect[id_of('a')] = ok(unhealthy);
  harness.engine->forget_requests();
  const CollectResult second = harness.run();
  EXPECT_EQ(harness.engine->count("/containers/" + id_of('a') + "/json"), 1u);
  EXPECT_EQ(value(second, "assets_container_health_status", {{"container", "assets-backend-1"}, {"status", "unhealthy"}}),
            1);
}

TEST(ContainersCollector, TheRollingResyncReinspectsEveryContainer) {
  ContainersConfig config;
  config.resync_interval = std::chrono::milliseconds(1);
  Harness harness(config);
  harness.run();
  harness.engine->forget_requests();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  harness.run();
  EXPECT_EQ(harness.engine->count("/json") - 1, 9u);
}

TEST(ContainersCollector, ZeroResyncIntervalInspectsEveryRunWithoutEvents) {
  ContainersConfig config;
  config.resync_interval = Duration(0);
  Harness harness(config);
  harness.run();
  harness.engine->forget_requests();
  harness.run();
  EXPECT_EQ(harness.engine->count("/json") - 1, 9u);
  EXPECT_EQ(harness.engine->count("/events"), 0u);
}

TEST(ContainersCollector, UnreadableEventsMeanAFullInspection) {
  for (const EngineReply& events : {status(500), ok("{\"Type\":\"contai"), broken(EngineFailure::timeout)}) {
    Harness harness;
    harness.run();
    harness.engine->events = events;
    harness.engine->forget_requests();
    const CollectResult second = harness.run();
    EXPECT_EQ(harness.engine->count("/json") - 1, 9u);
    EXPECT_EQ(value(second, "assets_container_engine_up"), 1);
  }
}

TEST(ContainersCollector, AFullDockerEventBufferMeansAFullInspection) {
  Harness harness;
  harness.run();
  std::string events;
  for (int i = 0; i < 256; ++i) {
    events += R"({"Type":"network","Action":"connect","Actor":{"ID":"n","Attributes":{}},"time":1,"timeNano":1})";
    events += "\n";
  }
  harness.engine->events = ok(events);
  harness.engine->forget_requests();
  harness.run();
  EXPECT_EQ(harness.engine->count("/json") - 1, 9u);
}

TEST(ContainersCollector, AsksDockerAndPodmanForEventsInTheirDialect) {
  Harness docker;
  docker.run();
  docker.run();
  EXPECT_EQ(docker.engine->count("&until="), 1u);
  EXPECT_EQ(docker.engine->count("stream=false"), 0u);

  Harness podman;
  podman.engine->version = ok(fixture("podman/version.json"));
  podman.run();
  podman.run();
  EXPECT_EQ(podman.engine->count("&until="), 0u);
  EXPECT_EQ(podman.engine->count("/v1.41/events?since="), 1u);
  EXPECT_EQ(podman.engine->count("stream=false"), 1u);
}

TEST(ContainersCollector, AContainerRemovedBetweenListAndInspectIsSkipped) {
  Harness harness;
  harness.engine->inspect.erase(id_of('d'));  // the engine answers 404
  const CollectResult result = harness.run();
  EXPECT_EQ(value(result, "assets_container_engine_up"), 1);
  EXPECT_EQ(samples(result, "assets_container_info"), 8u);
  EXPECT_FALSE(value(result, "assets_container_info", {{"container", "assets-migrate-1"}}));
  EXPECT_TRUE(std::none_of(result.targets.begin(), result.targets.end(),
                           [](const TargetStatus& t) { return t.name == "assets-migrate-1"; }));
}

TEST(ContainersCollector, AFailedInspectionFallsBackToTheListAndRetries) {
  Harness harness;
  harness.engine->inspect[id_of('b')] = status(500);
  const CollectResult first = harness.run();
  EXPECT_EQ(value(first, "assets_container_engine_up"), 1);
  EXPECT_EQ(value(first, "assets_container_health_status", {{"container", "assets-worker-1"}, {"status", "unhealthy"}}),
            1);  // from the list's Status
  EXPECT_FALSE(value(first, "assets_container_restarts", {{"container", "assets-worker-1"}}));

  harness.engine->inspect[id_of('b')] = ok(fixture("docker/inspect_unhealthy.json"));
  harness.engine->forget_requests();
  const CollectResult second = harness.run();
  EXPECT_EQ(harness.engine->count("/containers/" + id_of('b') + "/json"), 1u);
  EXPECT_EQ(value(second, "assets_container_restarts", {{"container", "assets-worker-1"}}), 0);
}

struct FaultCase {
  const char* name;
  void (*apply)(EngineState&);
  const char* reason;
};

TEST(ContainersCollector, EngineFaultsAreMetrics) {
  const FaultCase cases[] = {
      {"socket missing", [](EngineState& e) { e.version = broken(EngineFailure::not_found); }, "not_found"},
      {"permission denied", [](EngineState& e) { e.version = broken(EngineFailure::permission_denied); },
       "permission_denied"},
      {"hanging engine", [](EngineState& e) { e.version = broken(EngineFailure::timeout); }, "timeout"},
      {"version 500", [](EngineState& e) { e.version = status(500); }, "api_error"},
      {"proxy refuses", [](EngineState& e) { e.list = status(403); }, "permission_denied"},
      {"version garbage", [](EngineState& e) { e.version = ok("<html>oops</html>"); }, "protocol"},
      {"engine too old", [](EngineState& e) { e.version = ok(fixture("docker/version_1_39.json")); }, "api_error"},
      {"list 500", [](EngineState& e) { e.list = status(500); }, "api_error"},
      {"list garbage", [](EngineState& e) { e.list = ok("[{\"Id\":"); }, "protocol"},
      {"list timeout", [](EngineState& e) { e.list = broken(EngineFailure::timeout); }, "timeout"},
  };
  for (const auto& fault : cases) {
    SCOPED_TRACE(fault.name);
    Harness harness;
    fault.apply(*harness.engine);
    const CollectResult result = harness.run();
    EXPECT_EQ(value(result, "assets_container_engine_up"), 0);
    EXPECT_EQ(value(result, "assets_container_engine_failure", {{"reason", fault.reason}}), 1);
    EXPECT_EQ(samples(result, "assets_container_engine_failure"), 1u);
    EXPECT_EQ(samples(result, "assets_container_info"), 0u);
    EXPECT_EQ(samples(result, "assets_container_engine_info"), 0u);
    ASSERT_EQ(result.targets.size(), 1u);
    EXPECT_FALSE(result.targets.front().up);
    EXPECT_EQ(result.targets.front().reason, fault.reason);
    EXPECT_FALSE(result.targets.front().detail.empty());
  }
}

TEST(ContainersCollector, RecoversAfterAnEngineFailureWithAFullInspection) {
  Harness harness;
  harness.run();
  const EngineReply list = harness.engine->list;
  harness.engine->list = broken(EngineFailure::not_found);
  const CollectResult down = harness.run();
  EXPECT_EQ(value(down, "assets_container_engine_up"), 0);
  EXPECT_EQ(value(down, "assets_container_engine_failure", {{"reason", "not_found"}}), 1);
  harness.engine->list = list;
  harness.engine->forget_requests();
  const CollectResult result = harness.run();
  EXPECT_EQ(value(result, "assets_container_engine_up"), 1);
  EXPECT_EQ(samples(result, "assets_container_engine_failure"), 0u);
  EXPECT_EQ(harness.engine->count("/version"), 1u);  // the engine may have been upgraded meanwhile
  EXPECT_EQ(harness.engine->count("/json") - 1, 9u);
  EXPECT_EQ(harness.engine->count("/events"), 0u);  // events across the outage are not trusted
}

TEST(ContainersCollector, AsksForTheVersionOnlyOnce) {
  Harness harness;
  harness.run();
  harness.run();
  harness.run();
  EXPECT_EQ(harness.engine->count("/version"), 1u);
  EXPECT_EQ(harness.engine->count("/containers/json"), 3u);
}

TEST(ContainersCollector, AnotherEngineVersionIsLearntAndInspectedAfresh) {
  Harness harness;
  harness.engine->version.headers = {{"api-version", "1.43"}, {"server", "Docker/24.0.7 (linux)"}};
  harness.engine->list.headers = harness.engine->version.headers;
  harness.run();
  harness.run();
  EXPECT_EQ(harness.engine->count("/version"), 1u);

  harness.engine->version = ok(R"({"Version":"25.0.1","ApiVersion":"1.44","MinAPIVersion":"1.24"})");
  harness.engine->version.headers = {{"api-version", "1.44"}, {"server", "Docker/25.0.1 (linux)"}};
  harness.engine->list.headers = harness.engine->version.headers;
  harness.engine->forget_requests();
  const CollectResult result = harness.run();
  EXPECT_EQ(value(result, "assets_container_engine_info", {{"version", "25.0.1"}, {"api_version", "1.44"}}), 1);
  EXPECT_EQ(harness.engine->count("/version"), 1u);
  EXPECT_EQ(harness.engine->count("/v1.44/containers/json"), 1u);
  EXPECT_EQ(harness.engine->count("/v1.44/containers/" + id_of('a') + "/json"), 1u);
}

TEST(ContainersCollector, APassedDeadlineStopsInspections) {
  Harness harness;
  const CollectResult result = harness.collector->run(context_with(std::chrono::milliseconds(-1)));
  EXPECT_EQ(harness.engine->count("/json") - 1, 0u);
  // What the list tells is still reported, and the next run inspects.
  EXPECT_EQ(samples(result, "assets_container_info"), 9u);
  EXPECT_EQ(value(result, "assets_container_exit_code", {{"container", "assets-migrate-1"}}), 3);
  harness.engine->forget_requests();
  harness.run();
  EXPECT_EQ(harness.engine->count("/json") - 1, 9u);
}

TEST(ContainersCollector, FactoryHonoursEnabledAndDefaults) {
  EXPECT_FALSE(testing::configured_collector("containers", "global:\n  interval: 30s\n"));
  EXPECT_FALSE(testing::configured_collector("containers", "containers:\n  enabled: false\n"));
  auto spec = testing::configured_collector("containers", "global:\n  interval: 30s\n  timeout: 10s\ncontainers:\n");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->interval, std::chrono::seconds(30));
  EXPECT_EQ(spec->timeout, std::chrono::seconds(10));
  spec = testing::configured_collector("containers", "containers:\n  interval: 15s\n  timeout: 5s\n");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->interval, std::chrono::seconds(15));
  EXPECT_EQ(spec->timeout, std::chrono::seconds(5));
}

}  // namespace
}  // namespace assets
