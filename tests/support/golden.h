#pragma once
// Golden expositions, in the manner of node_exporter's collector/fixtures/e2e-output.txt:
// a collector run on a fixed input is serialised as /metrics would serve it and compared
// with tests/testdata/golden/NAME.prom, so every change of output is a visible diff.
// ASSETS_UPDATE_GOLDEN=1 rewrites the file instead; the file must pass `promtool check
// metrics` either way.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/collector.h"

namespace assets::testing {

struct GoldenOptions {
  // Families whose values are measured (durations): written as 0.
  std::set<std::string> timing_families;
  // Text replaced in the output (a temp dir's path by a placeholder), in this order.
  std::vector<std::pair<std::string, std::string>> replacements;
};

// The exposition of `result` as it is compared: timing values zeroed, replacements made.
std::string golden_text(const CollectResult& result, const GoldenOptions& options);

// Adds a gtest failure naming the first differing line when the output differs from the
// golden file, or when promtool rejects it.
void expect_golden_exposition(const CollectResult& result, const std::string& name, const GoldenOptions& options = {});

}  // namespace assets::testing
