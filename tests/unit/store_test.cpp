#include "agent/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "agent/metrics.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

CollectorRun run_with_metric(const std::string& name, double value) {
  MetricsBuilder builder;
  builder.gauge(name, "Test metric.").add({{"target", "a"}}, value);
  CollectorRun run;
  run.success = true;
  run.duration_seconds = 0.25;
  run.timestamp_seconds = 1700000000;
  run.result.families = builder.take();
  run.result.targets.push_back({"a", "fake", true, "", "", 0.1});
  return run;
}

TEST(Store, NotReadyUntilEveryCollectorHasRun) {
  Store store(1);
  store.set_collectors({"health", "backups"}, "test.yml");
  EXPECT_FALSE(store.snapshot()->ready);
  store.record("health", run_with_metric("assets_test_one", 1));
  EXPECT_FALSE(store.snapshot()->ready);
  store.record("backups", run_with_metric("assets_test_two", 2));
  EXPECT_TRUE(store.snapshot()->ready);
}

TEST(Store, RendersDriverMetricsAndCollectorFamilies) {
  Store store(1);
  store.set_collectors({"health"}, "test.yml");
  store.record("health", run_with_metric("assets_test_one", 42));
  const auto snapshot = store.snapshot();
  EXPECT_NE(snapshot->text.find("assets_collector_success{collector=\"health\"} 1\n"), std::string::npos);
  EXPECT_NE(snapshot->text.find("assets_collector_duration_seconds{collector=\"health\"} 0.25\n"), std::string::npos);
  EXPECT_NE(snapshot->text.find("assets_test_one{target=\"a\"} 42\n"), std::string::npos);
  EXPECT_NE(snapshot->text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_EQ(testing::gunzip(snapshot->gzip), snapshot->text);
}

// Defect 10, at the depth where it broke: one label value that is not UTF-8, from any
// source, made Prometheus reject every sample of the scrape.
TEST(Store, LabelValuesAreAlwaysUtf8) {
  MetricsBuilder builder;
  builder.gauge("assets_test_name", "Test metric.").add({{"check", "api\xff"}}, 1);
  CollectorRun run;
  run.success = true;
  run.result.families = builder.take();
  Store store(1);
  store.set_collectors({"health"}, "test.yml");
  store.record("health", std::move(run));
  EXPECT_NE(store.snapshot()->text.find("assets_test_name{check=\"api?\"} 1\n"), std::string::npos);
}

TEST(Store, IgnoresRunsOfCollectorsNoLongerConfigured) {
  Store store(1);
  store.set_collectors({"health"}, "a.yml");
  store.record("health", run_with_metric("assets_test_one", 1));
  store.set_collectors({"backups"}, "b.yml");
  store.record("health", run_with_metric("assets_test_one", 2));
  const auto snapshot = store.snapshot();
  EXPECT_EQ(snapshot->text.find("assets_test_one"), std::string::npos);
  ASSERT_EQ(snapshot->collectors.size(), 1U);
  EXPECT_EQ(snapshot->collectors[0].name, "backups");
}

TEST(Store, KeepsResultsOfCollectorsThatStayAcrossReload) {
  Store store(1);
  store.set_collectors({"health"}, "a.yml");
  store.record("health", run_with_metric("assets_test_one", 7));
  store.set_collectors({"health", "backups"}, "b.yml");
  EXPECT_NE(store.snapshot()->text.find("assets_test_one{target=\"a\"} 7"), std::string::npos);
}

// Run under the tsan preset: readers hold snapshots while writers swap them.
TEST(Store, SnapshotSwapUnderConcurrentScrapes) {
  Store store(1);
  store.set_collectors({"health", "backups"}, "test.yml");
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  std::atomic<long> reads{0};
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        const auto snapshot = store.snapshot();
        ASSERT_FALSE(snapshot->text.empty());
        ASSERT_FALSE(snapshot->gzip.empty());
        ++reads;
      }
    });
  }
  std::thread writer_a([&] {
    for (int i = 0; i < 200; ++i) store.record("health", run_with_metric("assets_test_one", i));
  });
  std::thread writer_b([&] {
    for (int i = 0; i < 200; ++i) store.record("backups", run_with_metric("assets_test_two", i));
  });
  writer_a.join();
  writer_b.join();
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_GT(reads.load(), 0);
  const auto last = store.snapshot();
  EXPECT_NE(last->text.find("assets_test_one{target=\"a\"} 199"), std::string::npos);
  EXPECT_NE(last->text.find("assets_test_two{target=\"a\"} 199"), std::string::npos);
}

}  // namespace
}  // namespace assets
