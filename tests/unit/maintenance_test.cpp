// Maintenance windows: the state file's format, and the collector reading it.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "agent/metrics.h"
#include "collectors/maintenance/window.h"
#include "tests/support/cert_factory.h"
#include "tests/support/configured_collector.h"
#include "tests/support/golden.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using testing::TempDir;
using testing::write_file;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(MaintenanceWindow, ParsesWhatItWritesAndRejectsTheRest) {
  const MaintenanceWindow window{1000, 2800, "deploy 1a2b3c"};
  std::string error;
  const auto parsed = parse_maintenance_window(serialize_maintenance_window(window), error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(parsed->start, 1000);
  EXPECT_EQ(parsed->end, 2800);
  EXPECT_EQ(parsed->reason, "deploy 1a2b3c");
  EXPECT_TRUE(parsed->active(1000));
  EXPECT_TRUE(parsed->active(2799));
  EXPECT_FALSE(parsed->active(2800));
  EXPECT_FALSE(parsed->active(999));

  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"", "not a JSON object"},
           {"[1, 2]", "not a JSON object"},
           {R"({"start": 1})", R"("start" and "end" are required)"},
           {R"({"start": 5, "end": 5})", R"("end" must be after "start")"},
           {R"({"start": "soon", "end": 5})", R"("start" must be a number of Unix seconds)"},
           {R"({"start": 1, "end": 5, "reason": 7})", R"("reason" must be a string)"},
           {R"({"start": 1, "end": 5, "until": 9})", R"(unknown key "until")"}}) {
    SCOPED_TRACE(text);
    error.clear();
    EXPECT_FALSE(parse_maintenance_window(text, error));
    EXPECT_EQ(error, message);
  }
}

TEST(MaintenanceWindow, AHandWrittenWindowIsCutToTheLongestAllowed) {
  std::string error;
  const auto parsed = parse_maintenance_window(R"({"start": 0, "end": 1e12, "reason": ")" + std::string(500, 'x') + "\"}", error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(parsed->end, 24 * 3600);
  EXPECT_EQ(parsed->reason.size(), kMaxMaintenanceReason);
}

struct MaintenanceRun {
  explicit MaintenanceRun(const std::string& state_file) {
    auto collector = testing::configured_collector("maintenance", "maintenance:\n  state_file: " + state_file + "\n");
    if (!collector) throw std::runtime_error("maintenance not enabled");
    CollectContext context;
    context.deadline = std::chrono::steady_clock::now() + collector->timeout;
    result = collector->collector->run(context);
  }
  std::optional<double> value(const std::string& name) const {
    for (const auto& family : result.families) {
      if (family.name == name && !family.metric.empty()) return family.metric.front().gauge.value;
    }
    return std::nullopt;
  }
  CollectResult result;
};

TEST(MaintenanceCollector, NoFileOpenEndedAndBrokenWindows) {
  TempDir dir;
  const std::string path = (dir / "maintenance.json").string();
  {
    MaintenanceRun run(path);
    EXPECT_EQ(run.value("assets_maintenance_active"), 0);
    EXPECT_EQ(run.value("assets_maintenance_state_file_valid"), 1);
    EXPECT_FALSE(run.value("assets_maintenance_end_timestamp_seconds"));
    EXPECT_TRUE(run.result.targets.at(0).up);
    EXPECT_EQ(run.result.targets.at(0).detail, "no maintenance window");
  }
  const double now = now_seconds();
  write_file(path, serialize_maintenance_window({now - 60, now + 1800, "deploy 1a2b3c"}));
  {
    MaintenanceRun run(path);
    EXPECT_EQ(run.value("assets_maintenance_active"), 1);
    EXPECT_EQ(run.value("assets_maintenance_end_timestamp_seconds"), now + 1800);
    EXPECT_EQ(run.value("assets_maintenance_start_timestamp_seconds"), now - 60);
    EXPECT_NE(run.result.targets.at(0).detail.find("open, until"), std::string::npos) << run.result.targets.at(0).detail;
    EXPECT_NE(run.result.targets.at(0).detail.find("deploy 1a2b3c"), std::string::npos);
  }
  // A window that was never ended by hand ends by itself.
  write_file(path, serialize_maintenance_window({now - 3600, now - 1, "forgotten"}));
  {
    MaintenanceRun run(path);
    EXPECT_EQ(run.value("assets_maintenance_active"), 0);
    EXPECT_NE(run.result.targets.at(0).detail.find("ended"), std::string::npos);
  }
  // A broken file opens no window: alerts are never held back by mistake.
  write_file(path, "{\"start\": 0, \"end\": \"tomorrow\"}");
  {
    MaintenanceRun run(path);
    EXPECT_EQ(run.value("assets_maintenance_active"), 0);
    EXPECT_EQ(run.value("assets_maintenance_state_file_valid"), 0);
    EXPECT_FALSE(run.result.targets.at(0).up);
    EXPECT_EQ(run.result.targets.at(0).reason, "invalid");
  }
  write_file(path, std::string(10000, ' '));
  {
    MaintenanceRun run(path);
    EXPECT_EQ(run.result.targets.at(0).reason, "unreadable") << "larger than the 4 KiB limit";
  }
}

}  // namespace
}  // namespace assets
