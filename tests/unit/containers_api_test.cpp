// Parsing of recorded Docker Engine API responses: Docker's (from the API reference) and
// Podman's (recorded from its API service), plus malformed and truncated bodies.
#include "collectors/containers/api.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace assets::containers {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(testing::source_dir() / "tests" / "testdata" / name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ContainerDetails inspected(const std::string& name) {
  auto parsed = parse_inspect(fixture(name));
  EXPECT_TRUE(parsed.value) << name << ": " << parsed.error;
  return parsed.value.value_or(ContainerDetails{});
}

TEST(ContainersApiVersion, ParsesDockerVersion) {
  const auto version = parse_version(fixture("docker/version.json"));
  ASSERT_TRUE(version.value) << version.error;
  EXPECT_EQ(version.value->version, "24.0.7");
  EXPECT_EQ(version.value->api_version.to_string(), "1.43");
  EXPECT_FALSE(version.value->podman);
}

TEST(ContainersApiVersion, ParsesPodmanVersion) {
  const auto version = parse_version(fixture("podman/version.json"));
  ASSERT_TRUE(version.value) << version.error;
  EXPECT_EQ(version.value->version, "4.3.1");
  EXPECT_EQ(version.value->api_version.to_string(), "1.41");
  EXPECT_TRUE(version.value->podman);
}

TEST(ContainersApiVersion, ComparesApiVersionsNumerically) {
  EXPECT_LT(*parse_api_version("1.9"), *parse_api_version("1.40"));
  EXPECT_LT(*parse_api_version("1.39"), kMinApiVersion);
  EXPECT_FALSE(parse_api_version("1"));
  EXPECT_FALSE(parse_api_version("1.x"));
  EXPECT_FALSE(parse_api_version("1.41 "));
  const auto old = parse_version(fixture("docker/version_1_39.json"));
  ASSERT_TRUE(old.value);
  EXPECT_LT(old.value->api_version, kMinApiVersion);
}

TEST(ContainersApiVersion, RejectsAVersionWithoutApiVersion) {
  EXPECT_FALSE(parse_version(R"({"Version":"24.0.7"})").value);
  EXPECT_FALSE(parse_version("[]").value);
  EXPECT_FALSE(parse_version("<html>").value);
}

TEST(ContainersApiList, ParsesDockerList) {
  const auto list = parse_container_list(fixture("docker/containers_list.json"));
  ASSERT_TRUE(list.value) << list.error;
  ASSERT_EQ(list.value->size(), 9u);
  const ListedContainer& backend = list.value->front();
  EXPECT_EQ(backend.name, "assets-backend-1");
  EXPECT_EQ(backend.id, std::string(64, 'a'));
  EXPECT_EQ(backend.image, "assets/backend:1.4.2");
  EXPECT_EQ(backend.state, "running");
  EXPECT_EQ(backend.labels.at("com.docker.compose.service"), "backend");
  std::vector<std::string> states;
  for (const auto& container : *list.value) states.push_back(container.state);
  EXPECT_EQ(states, (std::vector<std::string>{"running", "running", "running", "exited", "restarting", "paused", "dead",
                                              "exited", "created"}));
}

TEST(ContainersApiList, ParsesPodmanList) {
  const auto list = parse_container_list(fixture("podman/containers_list.json"));
  ASSERT_TRUE(list.value) << list.error;
  ASSERT_EQ(list.value->size(), 6u);
  std::map<std::string, std::string> states;
  for (const auto& container : *list.value) states[container.name] = container.state;
  EXPECT_EQ(states, (std::map<std::string, std::string>{{"web", "paused"},
                                                        {"worker", "running"},
                                                        {"migrate", "exited"},
                                                        {"db", "running"},
                                                        {"fresh", "created"},
                                                        {"flaky", "exited"}}));
}

TEST(ContainersApiList, SignatureIgnoresAgesButNotHealthOrExitCode) {
  auto entry = [](const std::string& state, const std::string& status) {
    return R"([{"Id":"abc","Names":["/x"],"Image":"i","Created":1,"State":")" + state + R"(","Status":")" + status +
           R"("}])";
  };
  auto signature = [&](const std::string& state, const std::string& status) {
    return parse_container_list(entry(state, status)).value->front().change_signature;
  };
  EXPECT_EQ(signature("running", "Up 5 seconds (healthy)"), signature("running", "Up 2 hours (healthy)"));
  EXPECT_NE(signature("running", "Up 5 seconds (healthy)"), signature("running", "Up 6 seconds (unhealthy)"));
  EXPECT_NE(signature("exited", "Exited (0) 1 second ago"), signature("exited", "Exited (3) 1 second ago"));
  EXPECT_NE(signature("running", "Up 1 second"), signature("exited", "Exited (0) 1 second ago"));
}

TEST(ContainersApiList, DetailsFromListReadHealthAndExitCodeFromStatus) {
  const auto list = parse_container_list(fixture("docker/containers_list.json"));
  ASSERT_TRUE(list.value);
  const ContainerDetails unhealthy = details_from_list((*list.value)[1]);
  EXPECT_EQ(unhealthy.health, "unhealthy");
  EXPECT_EQ(unhealthy.state, "running");
  EXPECT_FALSE(unhealthy.restart_count);
  const ContainerDetails exited = details_from_list((*list.value)[3]);
  EXPECT_EQ(exited.exit_code, 3);
  EXPECT_EQ(details_from_list((*list.value)[0]).health, "healthy");
}

TEST(ContainersApiList, RejectsMalformedLists) {
  EXPECT_FALSE(parse_container_list("{}").value);
  EXPECT_FALSE(parse_container_list(R"([{"Names":["/x"]}])").value);  // no Id
  EXPECT_FALSE(parse_container_list("[1]").value);
  EXPECT_FALSE(parse_container_list("").value);
  const std::string whole = fixture("docker/containers_list.json");
  EXPECT_FALSE(parse_container_list(whole.substr(0, whole.size() / 2)).value);
}

TEST(ContainersApiList, ToleratesMissingAndNullFields) {
  const auto list = parse_container_list(R"([{"Id":"0123456789abcdef","Labels":null,"Names":null}])");
  ASSERT_TRUE(list.value) << list.error;
  EXPECT_EQ(list.value->front().name, "0123456789ab");
  EXPECT_EQ(list.value->front().state, "exited");
  EXPECT_TRUE(list.value->front().labels.empty());
}

TEST(ContainersApiInspect, DockerRunningHealthy) {
  const ContainerDetails details = inspected("docker/inspect_healthy.json");
  EXPECT_EQ(details.name, "assets-backend-1");
  EXPECT_EQ(details.image, "assets/backend:1.4.2");
  EXPECT_EQ(details.state, "running");
  EXPECT_EQ(details.health, "healthy");
  EXPECT_EQ(details.restart_count, 0);
  EXPECT_EQ(details.exit_code, 0);
  EXPECT_EQ(details.oom_killed, false);
  ASSERT_TRUE(details.started_at);
  EXPECT_NEAR(*details.started_at, 1700000000.123456789, 1e-6);
  EXPECT_EQ(details.labels.at("com.docker.compose.project"), "assets");
}

TEST(ContainersApiInspect, DockerWithoutHealthCheck) {
  EXPECT_EQ(inspected("docker/inspect_no_health.json").health, "none");
}

TEST(ContainersApiInspect, DockerUnhealthyAndStarting) {
  EXPECT_EQ(inspected("docker/inspect_unhealthy.json").health, "unhealthy");
  EXPECT_EQ(inspected("docker/inspect_starting.json").health, "starting");
}

TEST(ContainersApiInspect, DockerExited) {
  const ContainerDetails details = inspected("docker/inspect_exited.json");
  EXPECT_EQ(details.state, "exited");
  EXPECT_EQ(details.exit_code, 3);
}

TEST(ContainersApiInspect, DockerRestarting) {
  const ContainerDetails details = inspected("docker/inspect_restarting.json");
  EXPECT_EQ(details.state, "restarting");
  EXPECT_EQ(details.restart_count, 17);
  EXPECT_EQ(details.exit_code, 1);
}

TEST(ContainersApiInspect, DockerPausedWithOffsetTimestamp) {
  const ContainerDetails details = inspected("docker/inspect_paused.json");
  EXPECT_EQ(details.state, "paused");
  ASSERT_TRUE(details.started_at);
  EXPECT_DOUBLE_EQ(*details.started_at, 1699858800.0);  // 2023-11-13T08:00:00+01:00
}

TEST(ContainersApiInspect, DockerDead) {
  const ContainerDetails details = inspected("docker/inspect_dead.json");
  EXPECT_EQ(details.state, "dead");
  EXPECT_EQ(details.exit_code, 255);
}

TEST(ContainersApiInspect, DockerOomKilled) {
  const ContainerDetails details = inspected("docker/inspect_oomkilled.json");
  EXPECT_EQ(details.state, "exited");
  EXPECT_EQ(details.oom_killed, true);
  EXPECT_EQ(details.exit_code, 137);
  EXPECT_EQ(details.restart_count, 2);
}

TEST(ContainersApiInspect, DockerCreatedNeverStarted) {
  const ContainerDetails details = inspected("docker/inspect_created.json");
  EXPECT_EQ(details.state, "created");
  EXPECT_FALSE(details.started_at);
}

TEST(ContainersApiInspect, PodmanStates) {
  const ContainerDetails web = inspected("podman/inspect_web.json");
  EXPECT_EQ(web.state, "paused");
  EXPECT_EQ(web.health, "none");  // Podman sends Health with an empty Status
  EXPECT_EQ(web.labels.at("com.docker.compose.service"), "backend");
  EXPECT_EQ(web.image, "localhost/busybox:test");

  EXPECT_EQ(inspected("podman/inspect_db.json").health, "healthy");
  EXPECT_EQ(inspected("podman/inspect_worker.json").health, "unhealthy");

  const ContainerDetails migrate = inspected("podman/inspect_migrate.json");
  EXPECT_EQ(migrate.state, "exited");
  EXPECT_EQ(migrate.exit_code, 3);

  const ContainerDetails flaky = inspected("podman/inspect_flaky.json");
  EXPECT_EQ(flaky.restart_count, 3);
  EXPECT_EQ(flaky.exit_code, 1);
  ASSERT_TRUE(flaky.started_at);
  EXPECT_NEAR(*flaky.started_at, *parse_timestamp("2026-11-29T01:34:51.00349035Z"), 1e-6);

  const ContainerDetails fresh = inspected("podman/inspect_fresh.json");
  EXPECT_EQ(fresh.state, "created");
  EXPECT_FALSE(fresh.started_at);
}

TEST(ContainersApiInspect, FallsBackToStateFlagsForUnknownStatus) {
  auto state_of = [](const std::string& state) {
    return parse_inspect(R"({"Id":"abc","Name":"/x","State":)" + state + "}").value->state;
  };
  EXPECT_EQ(state_of(R"({"Status":"stopped"})"), "exited");  // Podman's own name
  EXPECT_EQ(state_of(R"({"Status":"configured"})"), "created");
  EXPECT_EQ(state_of(R"({"Status":"weird","Running":true,"Restarting":true})"), "restarting");
  EXPECT_EQ(state_of(R"({"Running":true})"), "running");
  EXPECT_EQ(state_of(R"({"Status":"weird"})"), "exited");
}

TEST(ContainersApiInspect, UnknownHealthIsNone) {
  const auto parsed = parse_inspect(R"({"Id":"abc","State":{"Status":"running","Health":{"Status":"sleepy"}}})");
  ASSERT_TRUE(parsed.value);
  EXPECT_EQ(parsed.value->health, "none");
}

TEST(ContainersApiInspect, RejectsMalformedAndTruncated) {
  EXPECT_FALSE(parse_inspect("").value);
  EXPECT_FALSE(parse_inspect("[]").value);
  EXPECT_FALSE(parse_inspect(R"({"Id":"abc"})").value);  // no State
  EXPECT_FALSE(parse_inspect(R"({"State":{}})").value);  // no Id
  EXPECT_FALSE(parse_inspect("Internal Server Error").value);
  const std::string whole = fixture("docker/inspect_healthy.json");
  for (std::size_t cut : {std::size_t{1}, whole.size() / 3, whole.size() - 3}) {
    EXPECT_FALSE(parse_inspect(whole.substr(0, cut)).value) << cut;
  }
}

TEST(ContainersApiInspect, WrongTypesAreIgnoredNotFatal) {
  const auto parsed = parse_inspect(
      R"({"Id":"abc","Name":7,"RestartCount":"many","State":{"Status":"running","ExitCode":"x","OOMKilled":1,"StartedAt":5}})");
  ASSERT_TRUE(parsed.value) << parsed.error;
  EXPECT_EQ(parsed.value->name, "abc");
  EXPECT_FALSE(parsed.value->restart_count);
  EXPECT_FALSE(parsed.value->exit_code);
  EXPECT_FALSE(parsed.value->oom_killed);
  EXPECT_FALSE(parsed.value->started_at);
}

TEST(ContainersApiEvents, ParsesDockerEvents) {
  const auto events = parse_events(fixture("docker/events.jsonl"));
  ASSERT_TRUE(events.value) << events.error;
  EXPECT_EQ(events.value->total_events, 10u);
  ASSERT_EQ(events.value->container_events.size(), 7u);
  std::set<std::string> changed;
  for (const auto& event : events.value->container_events) {
    if (event_may_change_state(event.action)) changed.insert(event.container_id);
  }
  // proxy died and started, worker's health changed; exec (health check runs) and attach change nothing
  EXPECT_EQ(changed, (std::set<std::string>{std::string(64, 'c'), std::string(64, 'b')}));
  EXPECT_EQ(events.value->container_events[3].action, "die");
}

TEST(ContainersApiEvents, ParsesPodmanEvents) {
  const auto events = parse_events(fixture("podman/events.jsonl"));
  ASSERT_TRUE(events.value) << events.error;
  ASSERT_FALSE(events.value->container_events.empty());
  std::set<std::string> actions;
  for (const auto& event : events.value->container_events) actions.insert(event.action);
  EXPECT_TRUE(actions.contains("restart"));
  EXPECT_TRUE(actions.contains("health_status"));
  EXPECT_TRUE(actions.contains("exec_died"));
  EXPECT_FALSE(event_may_change_state("exec_died"));
  EXPECT_FALSE(event_may_change_state("exec"));
  EXPECT_TRUE(event_may_change_state("died"));
  EXPECT_TRUE(event_may_change_state("oom"));
  EXPECT_TRUE(event_may_change_state("some_future_event"));
  EXPECT_TRUE(event_may_change_state("health_status"));
}

TEST(ContainersApiEvents, EmptyReplyHasNoEvents) {
  const auto events = parse_events("");
  ASSERT_TRUE(events.value);
  EXPECT_EQ(events.value->total_events, 0u);
}

TEST(ContainersApiEvents, RejectsTruncatedAndGarbage) {
  const std::string whole = fixture("docker/events.jsonl");
  EXPECT_FALSE(parse_events(whole.substr(0, whole.size() - 20)).value);
  EXPECT_FALSE(parse_events("not json\n").value);
  EXPECT_FALSE(parse_events(R"({"Type":"container","Action":"start"})").value);  // no container ID
}

TEST(ContainersApiTime, ParsesRfc3339) {
  EXPECT_DOUBLE_EQ(*parse_timestamp("1970-01-01T00:00:00Z"), 0.0);
  EXPECT_DOUBLE_EQ(*parse_timestamp("2023-11-14T22:13:20Z"), 1700000000.0);
  EXPECT_NEAR(*parse_timestamp("2023-11-14T22:13:20.5Z"), 1700000000.5, 1e-9);
  EXPECT_DOUBLE_EQ(*parse_timestamp("2023-11-14T23:13:20+01:00"), 1700000000.0);
  EXPECT_DOUBLE_EQ(*parse_timestamp("2023-11-14T21:13:20-01:00"), 1700000000.0);
  EXPECT_FALSE(parse_timestamp("0001-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp(""));
  EXPECT_FALSE(parse_timestamp("2023-11-14"));
  EXPECT_FALSE(parse_timestamp("2023-11-14T22:13:20"));
  EXPECT_FALSE(parse_timestamp("2023-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2023-11-14T22:13:20.Z"));
  EXPECT_FALSE(parse_timestamp("2023-11-14T22:13:20Zjunk"));
}

}  // namespace
}  // namespace assets::containers
