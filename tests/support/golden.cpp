#include "tests/support/golden.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <prometheus/text_serializer.h>

#include "tests/support/test_support.h"

namespace assets::testing {

std::string golden_text(const CollectResult& result, const GoldenOptions& options) {
  std::vector<prometheus::MetricFamily> families = result.families;
  for (auto& family : families) {
    if (!options.timing_families.contains(family.name)) continue;
    for (auto& metric : family.metric) metric.gauge.value = 0;
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  std::string text = out.str();
  for (const auto& [from, to] : options.replacements) {
    for (auto at = text.find(from); !from.empty() && at != std::string::npos; at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }
  return text;
}

void expect_golden_exposition(const CollectResult& result, const std::string& name, const GoldenOptions& options) {
  const auto path = source_dir() / "tests" / "testdata" / "golden" / (name + ".prom");
  const std::string actual = golden_text(result, options);
  const char* update = std::getenv("ASSETS_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
  }
  const std::string expected = read_file(path);
  if (actual != expected) {
    std::istringstream a(actual);
    std::istringstream e(expected);
    std::string actual_line;
    std::string expected_line;
    int line = 0;
    while (true) {
      ++line;
      const bool more_actual = static_cast<bool>(std::getline(a, actual_line));
      const bool more_expected = static_cast<bool>(std::getline(e, expected_line));
      if (!more_actual && !more_expected) break;
      if (!more_actual || !more_expected || actual_line != expected_line) {
        ADD_FAILURE() << path << ":" << line << " differs (ASSETS_UPDATE_GOLDEN=1 rewrites it)\n  expected: "
                      << (more_expected ? expected_line : "<end>") << "\n  actual:   "
                      << (more_actual ? actual_line : "<end>");
        break;
      }
    }
  }
  const std::string promtool = find_program("promtool");
  ASSETS_REQUIRE_COMPONENT(!promtool.empty(), "promtool (package prometheus)");
  std::string output;
  EXPECT_EQ(run_command({"sh", "-c", promtool + " check metrics < '" + path.string() + "'"}, &output), 0) << output;
  EXPECT_EQ(output, "") << path << ": " << output;
}

}  // namespace assets::testing
