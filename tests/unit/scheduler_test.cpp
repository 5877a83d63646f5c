#include "agent/scheduler.h"

#include <gtest/gtest.h>

#include "agent/fan_out.h"
#include "agent/web_server.h"
#include "tests/support/fake_collector.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;
using testing::FakeBehaviour;
using testing::FakeCollector;

ScheduledCollector fake(const std::string& name, FakeBehaviour& behaviour, Duration interval, Duration timeout) {
  return {name, std::make_unique<FakeCollector>("assets_test_" + name, behaviour), interval, timeout};
}

using testing::eventually;

const CollectorView* find(const Snapshot& snapshot, const std::string& name) {
  for (const auto& view : snapshot.collectors) {
    if (view.name == name) return &view;
  }
  return nullptr;
}

TEST(Scheduler, RunsEachCollectorOnItsInterval) {
  auto store_owner = std::make_shared<Store>(1);
  Store& store = *store_owner;
  FakeBehaviour fast;
  FakeBehaviour slow;
  store.set_collectors({"fast", "slow"}, "t");
  std::vector<ScheduledCollector> collectors;
  collectors.push_back(fake("fast", fast, 100ms, 50ms));
  collectors.push_back(fake("slow", slow, 10s, 1s));
  Scheduler scheduler(store_owner, 0ms);
  for (auto& collector : collectors) scheduler.start(std::move(collector));
  EXPECT_TRUE(eventually([&] { return fast.runs >= 5; }));
  EXPECT_EQ(slow.runs, 1);
  EXPECT_TRUE(store.snapshot()->ready);
}

TEST(Scheduler, ExceptionBecomesFailedRun) {
  auto store_owner = std::make_shared<Store>(1);
  Store& store = *store_owner;
  FakeBehaviour behaviour;
  behaviour.fail = true;
  store.set_collectors({"broken"}, "t");
  std::vector<ScheduledCollector> collectors;
  collectors.push_back(fake("broken", behaviour, 10s, 1s));
  Scheduler scheduler(store_owner, 0ms);
  for (auto& collector : collectors) scheduler.start(std::move(collector));
  ASSERT_TRUE(eventually([&] { return store.snapshot()->ready; }));
  const auto snapshot = store.snapshot();
  EXPECT_FALSE(find(*snapshot, "broken")->success);
  EXPECT_EQ(find(*snapshot, "broken")->error, "fake failure");
  EXPECT_NE(snapshot->text.find("assets_collector_success{collector=\"broken\"} 0"), std::string::npos);
}

TEST(Scheduler, OverrunIsAFailureButKeepsResults) {
  FakeBehaviour behaviour;
  behaviour.hang = true;
  FakeCollector collector("assets_test_overrun", behaviour);
  std::thread releaser([&] {
    std::this_thread::sleep_for(300ms);
    behaviour.release_all();
  });
  const CollectorRun run = Scheduler::run_once(collector, 100ms);
  releaser.join();
  EXPECT_FALSE(run.success);
  EXPECT_NE(run.error.find("longer than its timeout"), std::string::npos);
  EXPECT_EQ(run.result.families.size(), 1U);
}

// The acceptance case: a collector hangs past its timeout; /metrics is served from the
// snapshot and every scrape answers in under 50 ms, and the other collector keeps running.
TEST(Scheduler, HangingCollectorDelaysNeitherScrapesNorOtherCollectors) {
  auto store_owner = std::make_shared<Store>(1);
  Store& store = *store_owner;
  FakeBehaviour hanging;
  hanging.hang = true;
  FakeBehaviour healthy;
  store.set_collectors({"hanging", "healthy"}, "t");
  std::vector<ScheduledCollector> collectors;
  collectors.push_back(fake("hanging", hanging, 1s, 200ms));
  collectors.push_back(fake("healthy", healthy, 100ms, 50ms));
  Scheduler scheduler(store_owner, 0ms);
  for (auto& collector : collectors) scheduler.start(std::move(collector));
  WebOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  WebServer web(options, store, [] { return ReloadOutcome{true, "ok"}; });
  const std::string url = "http://127.0.0.1:" + std::to_string(web.ports().at(0)) + "/metrics";
  ASSERT_TRUE(eventually([&] { return hanging.runs == 1; }));

  const int healthy_runs_before = healthy.runs;
  for (int i = 0; i < 100; ++i) {
    const auto started = std::chrono::steady_clock::now();
    const auto response = testing::http_request("GET", url);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(response.status, 200) << response.error;
    EXPECT_LT(elapsed, 50ms) << "scrape " << i;
  }
  EXPECT_TRUE(eventually([&] { return healthy.runs > healthy_runs_before + 2; }));
  EXPECT_EQ(hanging.runs, 1);
  scheduler.request_stop();  // wakes the hanging collector through its stop token
  EXPECT_TRUE(scheduler.wait_stopped(2s));
}

TEST(Scheduler, StopWakesSleepingDriversAtOnce) {
  auto store_owner = std::make_shared<Store>(1);
  Store& store = *store_owner;
  FakeBehaviour behaviour;
  store.set_collectors({"idle"}, "t");
  std::vector<ScheduledCollector> collectors;
  collectors.push_back(fake("idle", behaviour, 1h, 1s));
  Scheduler scheduler(store_owner, 0ms);
  for (auto& collector : collectors) scheduler.start(std::move(collector));
  ASSERT_TRUE(eventually([&] { return behaviour.runs == 1; }));
  const auto started = std::chrono::steady_clock::now();
  scheduler.request_stop();
  EXPECT_TRUE(scheduler.wait_stopped(1s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
}

// Defect 4: a collector stuck in a call that ignores its stop token held reload and
// shutdown for as long as it was stuck. Its driver is abandoned after the budget instead,
// and records nothing when the call finally returns.
TEST(Scheduler, StopAbandonsADriverStuckPastItsBudget) {
  auto store = std::make_shared<Store>(1);
  // Static: the abandoned thread outlives the stop, and reads it until its run returns.
  static FakeBehaviour stuck;
  stuck.hang = true;
  stuck.ignore_stop = true;
  store->set_collectors({"stuck"}, "t");
  Scheduler scheduler(store, 0ms);
  scheduler.start(fake("stuck", stuck, 1h, 100ms));
  ASSERT_TRUE(eventually([&] { return stuck.runs == 1; }));

  const auto started = std::chrono::steady_clock::now();
  const auto ended = scheduler.stop({"stuck"}, 200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
  EXPECT_TRUE(ended.empty());
  EXPECT_TRUE(scheduler.names().empty());

  EXPECT_FALSE(scheduler.wait_stopped(0ms)) << "an abandoned driver that still runs counts as running";
  stuck.release_all();
  ASSERT_TRUE(eventually([&] { return stuck.returned == 1; }));
  EXPECT_TRUE(scheduler.wait_stopped(2s));  // it has ended, and recorded nothing
  EXPECT_FALSE(find(*store->snapshot(), "stuck")->has_run) << "an abandoned run was recorded";
}

// Defect 7: a run that never ends left success at its last value and nothing else to see.
// The run's start is published when it begins, with the timeout it is held to.
TEST(Scheduler, RunInProgressShowsItsStartAndTimeout) {
  auto store = std::make_shared<Store>(1);
  FakeBehaviour hanging;
  hanging.hang = true;
  store->set_collectors({"hanging"}, "t");
  Scheduler scheduler(store, 0ms);
  const double before = unix_time_now();
  scheduler.start(fake("hanging", hanging, 1h, 250ms));
  ASSERT_TRUE(eventually([&] { return hanging.runs == 1; }));
  store->refresh();  // what the daemon does every 5 s
  const auto snapshot = store->snapshot();
  EXPECT_GE(find(*snapshot, "hanging")->run_start_timestamp_seconds, before);
  EXPECT_NE(snapshot->text.find("assets_collector_timeout_seconds{collector=\"hanging\"} 0.25"), std::string::npos)
      << snapshot->text;
  EXPECT_NE(snapshot->text.find("assets_collector_run_start_timestamp_seconds{collector=\"hanging\"}"),
            std::string::npos);
  EXPECT_EQ(snapshot->text.find("assets_collector_last_run_timestamp_seconds{collector=\"hanging\"}"),
            std::string::npos);
  scheduler.request_stop();
  EXPECT_TRUE(scheduler.wait_stopped(2s));
}

// The watchdog's test of liveness: a run past its timeout plus the grace is stalled, one
// within it, or between runs, is not.
TEST(Scheduler, ARunPastItsTimeoutAndGraceIsStalled) {
  auto store = std::make_shared<Store>(1);
  FakeBehaviour hanging;
  hanging.hang = true;
  FakeBehaviour quick;
  store->set_collectors({"hanging", "quick"}, "t");
  Scheduler scheduler(store, 0ms);
  scheduler.start(fake("hanging", hanging, 1h, 50ms));
  scheduler.start(fake("quick", quick, 1h, 50ms));
  ASSERT_TRUE(eventually([&] { return hanging.runs == 1 && quick.runs == 1; }));
  EXPECT_TRUE(scheduler.stalled(10s).empty());
  EXPECT_TRUE(eventually([&] { return scheduler.stalled(100ms) == std::vector<std::string>{"hanging"}; }));
  scheduler.request_stop();
  EXPECT_TRUE(scheduler.wait_stopped(2s));
}

// A reload abandons a stuck run and starts a fresh driver; the stuck thread still holds the
// watchdog back, or a leak of stuck threads would go unnoticed.
TEST(Scheduler, AnAbandonedStuckRunIsStillStalled) {
  auto store = std::make_shared<Store>(1);
  static FakeBehaviour stuck;  // static: the abandoned thread reads it until it is released
  stuck.hang = true;
  stuck.ignore_stop = true;
  store->set_collectors({"stuck"}, "t");
  Scheduler scheduler(store, 0ms);
  scheduler.start(fake("stuck", stuck, 1h, 10ms));
  ASSERT_TRUE(eventually([&] { return stuck.runs == 1; }));
  EXPECT_TRUE(scheduler.stop({"stuck"}, 50ms).empty());
  EXPECT_TRUE(scheduler.names().empty());
  EXPECT_EQ(scheduler.stalled(0ms), std::vector<std::string>{"stuck"});
  stuck.release_all();
  ASSERT_TRUE(eventually([&] { return stuck.returned == 1; }));
  EXPECT_TRUE(eventually([&] { return scheduler.stalled(0ms).empty(); }));
}

TEST(FanOut, RunsEveryTaskWithBoundedThreads) {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::vector<int> done(20, 0);
  fan_out(done.size(), 3, {}, [&](std::size_t i) {
    const int now = ++running;
    int seen = peak;
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(5ms);
    --running;
    ++done[i];
  });
  EXPECT_EQ(std::count(done.begin(), done.end(), 1), 20);
  EXPECT_LE(peak, 3);
}

TEST(FanOut, SkipsTasksNotBegunWhenAStopIsRequested) {
  std::stop_source stop;
  std::vector<std::size_t> ran;
  // One thread, so "not begun" is exact: the stop comes during the third task.
  fan_out(10, 1, stop.get_token(), [&](std::size_t i) {
    ran.push_back(i);
    if (i == 2) stop.request_stop();
  });
  EXPECT_EQ(ran, (std::vector<std::size_t>{0, 1, 2}));
  std::atomic<int> after_stop{0};
  fan_out(10, 4, stop.get_token(), [&](std::size_t) { ++after_stop; });
  EXPECT_EQ(after_stop, 0);
}

TEST(FanOut, ATaskThatThrowsStopsNoOtherAndItsExceptionReachesTheCaller) {
  std::atomic<int> ran{0};
  EXPECT_THROW(fan_out(20, 4, {},
                       [&](std::size_t i) {
                         ++ran;
                         if (i == 3) throw std::runtime_error("target 3");
                       }),
               std::runtime_error);
  EXPECT_EQ(ran, 20);
  BackgroundFanOut background(5, 2, {}, [](std::size_t i) {
    if (i == 1) throw std::runtime_error("in the background");
  });
  EXPECT_THROW(background.join(), std::runtime_error);
}

TEST(DueTime, ATargetRunsAtTheFirstTickOnOrAfterItsDueTime) {
  using Clock = DueTime::Clock;
  const Clock::time_point start = Clock::now();
  DueTime due;
  EXPECT_TRUE(due.due(start, 10s));  // never ran
  due.ran(start, 30s);
  EXPECT_FALSE(due.due(start + 10s, 10s));
  EXPECT_FALSE(due.due(start + 29s, 10s));
  EXPECT_TRUE(due.due(start + 29s + 1ms, 10s));  // the tick at 30 s may come a little early
  EXPECT_TRUE(due.due(start + 40s, 10s));
  // A 14 s target beside a 10 s tick: the ticks at 10 s and 30 s pass it by, so it runs
  // every 20 s, not at every tick.
  DueTime longer;
  longer.ran(start, 14s);
  EXPECT_FALSE(longer.due(start + 10s, 10s));
  EXPECT_TRUE(longer.due(start + 20s, 10s));
}

}  // namespace
}  // namespace assets
