#pragma once
// Shared by the backups collector's tests: files with chosen mtimes, and a collector
// built from YAML whose samples, failure reasons and targets can be looked up.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/collector.h"
#include "agent/config.h"
#include "collectors/backups/backups.h"
#include "tests/support/configured_collector.h"
#include "tests/support/test_support.h"

namespace assets::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SystemClock = std::chrono::system_clock;

constexpr std::string_view kPlainDump = "SELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n\n";

inline std::string fixture(const std::string& name) {
  std::ifstream in(source_dir() / "tests/testdata/backups" / name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, std::string_view contents) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

inline void set_mtime(const fs::path& path, SystemClock::time_point time) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  const timespec times[2] = {{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)},
                             {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// A backup of `size` bytes (a valid plain dump when size allows) dated `age` ago.
inline void make_backup(const fs::path& path, SystemClock::duration age, std::size_t size = 2048) {
  std::string contents(size > kPlainDump.size() ? size - kPlainDump.size() : 0, '-');
  contents += kPlainDump;
  write_file(path, contents.substr(contents.size() - size));
  set_mtime(path, SystemClock::now() - age);
}

inline double seconds_since_epoch(SystemClock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

inline Config parse(const std::string& yaml) {
  ConfigResult result = parse_config(yaml, "test.yml");
  std::string errors;
  for (const auto& error : result.errors) errors += error.to_string() + "\n";
  EXPECT_TRUE(result.config.has_value()) << errors;
  return result.config.value_or(Config{});
}

// Runs a backups collector made from `yaml` and answers questions about its output.
class Harness {
 public:
  explicit Harness(const std::string& yaml) {
    auto collector = configured_collector("backups", yaml);
    EXPECT_TRUE(collector.has_value());
    if (collector) spec_ = std::move(*collector);
  }

  const ScheduledCollector& spec() const { return spec_; }
  const CollectResult& result() const { return result_; }

  void run(std::chrono::steady_clock::duration budget = 10s) {
    CollectContext context;
    context.deadline = std::chrono::steady_clock::now() + budget;
    result_ = spec_.collector->run(context);
  }

  // The sample of `name` for the set (the failure family has its own accessor).
  std::optional<double> value(std::string_view name, const std::string& set) const {
    for (const auto& family : result_.families) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        if (metric.label.size() == 1 && metric.label[0].name == "set" && metric.label[0].value == set) {
          return metric.gauge.value;
        }
      }
    }
    return std::nullopt;
  }

  // The failure reasons the set reports (at most one is expected).
  std::vector<std::string> reasons(const std::string& set) const {
    std::vector<std::string> found;
    for (const auto& family : result_.families) {
      if (family.name != "assets_backup_failure") continue;
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> labels;
        for (const auto& pair : metric.label) labels[pair.name] = pair.value;
        if (labels["set"] == set) found.push_back(labels["reason"]);
      }
    }
    return found;
  }

  const TargetStatus& target(const std::string& set) const {
    for (const auto& target : result_.targets) {
      if (target.name == set) return target;
    }
    ADD_FAILURE() << "no target " << set;
    static const TargetStatus missing;
    return missing;
  }

 private:
  ScheduledCollector spec_;
  CollectResult result_;
};

inline std::string set_yaml(const fs::path& path, const std::string& extra = "", const std::string& name = "db") {
  return "backups:\n  - name: " + name + "\n    path: " + path.string() + "\n" + extra;
}

}  // namespace assets::testing
