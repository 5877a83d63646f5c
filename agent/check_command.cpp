#include "agent/check_command.h"

#include <algorithm>
#include <cstdio>
#include <future>
#include <ostream>

#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "agent/scheduler.h"

namespace assets {
namespace {

struct Row {
  std::string collector;
  TargetStatus target;
};

}  // namespace

int run_check_command(std::span<const CollectorKind> registry, const Config& config, CheckFormat format,
                      std::ostream& out) {
  auto collectors = build_collectors(registry, config);
  // Collectors run side by side, so the whole check takes about the longest timeout.
  std::vector<std::future<CollectorRun>> runs;
  for (auto& collector : collectors) {
    runs.push_back(std::async(std::launch::async, [&collector] {
      return Scheduler::run_once(*collector.collector, collector.timeout);
    }));
  }
  std::vector<Row> rows;
  bool all_up = true;
  nlohmann::ordered_json failed_collectors = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < collectors.size(); ++i) {
    CollectorRun run = runs[i].get();
    if (!run.success) {
      all_up = false;
      failed_collectors.push_back({{"collector", collectors[i].name}, {"error", run.error}});
    }
    for (auto& target : run.result.targets) {
      all_up = all_up && target.up;
      rows.push_back({collectors[i].name, std::move(target)});
    }
  }

  if (format == CheckFormat::json) {
    nlohmann::ordered_json document;
    document["success"] = all_up;
    document["targets"] = nlohmann::ordered_json::array();
    for (const auto& row : rows) {
      document["targets"].push_back({{"collector", row.collector},
                                     {"name", row.target.name},
                                     {"kind", row.target.kind},
                                     {"state", row.target.up ? "up" : "down"},
                                     {"duration_seconds", row.target.duration_seconds},
                                     {"reason", row.target.reason},
                                     {"detail", row.target.detail}});
    }
    document["collector_errors"] = failed_collectors;
    out << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return all_up ? kExitOk : kExitCheckFailed;
  }

  const std::vector<std::string> header{"COLLECTOR", "NAME", "KIND", "STATE", "DURATION", "REASON"};
  std::vector<std::vector<std::string>> table{header};
  for (const auto& row : rows) {
    table.push_back({row.collector, row.target.name, row.target.kind, row.target.up ? "up" : "DOWN",
                     format_seconds(row.target.duration_seconds), row.target.reason});
  }
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& line : table) {
    for (std::size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], line[c].size());
  }
  for (const auto& line : table) {
    std::string text;
    for (std::size_t c = 0; c < line.size(); ++c) {
      text += line[c];
      if (c + 1 < line.size()) text += std::string(widths[c] - line[c].size() + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  }
  for (const auto& row : rows) {
    if (!row.target.up && !row.target.detail.empty()) {
      out << row.collector << "/" << row.target.name << ": " << row.target.detail << '\n';
    }
  }
  for (const auto& failure : failed_collectors) {
    out << "collector " << failure["collector"].get<std::string>() << " failed: " << failure["error"].get<std::string>()
        << '\n';
  }
  const auto down = std::count_if(rows.begin(), rows.end(), [](const Row& r) { return !r.target.up; });
  out << rows.size() << " targets, " << down << " down\n";
  return all_up ? kExitOk : kExitCheckFailed;
}

}  // namespace assets
