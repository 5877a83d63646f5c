#include "agent/check_command.h"

#include <algorithm>
#include <cstdio>
#include <future>
#include <ostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "agent/scheduler.h"

namespace assets {
namespace {

using Clock = std::chrono::steady_clock;

struct Row {
  std::string collector;
  TargetStatus target;
};

struct Attempt {
  std::vector<Row> rows;
  nlohmann::ordered_json failed_collectors = nlohmann::ordered_json::array();
  bool all_up = true;

  std::size_t down() const {
    return static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), [](const Row& r) { return !r.target.up; }));
  }
};

// Collectors run side by side, so one attempt takes about the longest timeout. Each
// attempt builds its collectors anew: a health check keeps its last result until its own
// interval comes round, which would turn a retry into a replay.
Attempt run_attempt(std::vector<ScheduledCollector> collectors) {
  std::vector<std::future<CollectorRun>> runs;
  for (auto& collector : collectors) {
    runs.push_back(std::async(std::launch::async, [&collector] {
      return Scheduler::run_once(*collector.collector, collector.timeout);
    }));
  }
  Attempt attempt;
  for (std::size_t i = 0; i < collectors.size(); ++i) {
    CollectorRun run = runs[i].get();
    if (!run.success) {
      attempt.all_up = false;
      attempt.failed_collectors.push_back({{"collector", collectors[i].name}, {"error", run.error}});
    }
    for (auto& target : run.result.targets) {
      attempt.all_up = attempt.all_up && target.up;
      attempt.rows.push_back({collectors[i].name, std::move(target)});
    }
  }
  return attempt;
}

void print_json(const Attempt& attempt, int attempts, double waited_seconds, std::ostream& out) {
  nlohmann::ordered_json document;
  document["success"] = attempt.all_up;
  document["attempts"] = attempts;
  document["waited_seconds"] = waited_seconds;
  document["targets"] = nlohmann::ordered_json::array();
  for (const auto& row : attempt.rows) {
    document["targets"].push_back({{"collector", row.collector},
                                   {"name", row.target.name},
                                   {"kind", row.target.kind},
                                   {"state", row.target.up ? "up" : "down"},
                                   {"duration_seconds", row.target.duration_seconds},
                                   {"reason", row.target.reason},
                                   {"detail", row.target.detail}});
  }
  document["collector_errors"] = attempt.failed_collectors;
  out << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

void print_text(const Attempt& attempt, std::ostream& out) {
  const std::vector<std::string> header{"COLLECTOR", "NAME", "KIND", "STATE", "DURATION", "REASON"};
  std::vector<std::vector<std::string>> table{header};
  for (const auto& row : attempt.rows) {
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
  for (const auto& row : attempt.rows) {
    if (!row.target.up && !row.target.detail.empty()) {
      out << row.collector << "/" << row.target.name << ": " << row.target.detail << '\n';
    }
  }
  for (const auto& failure : attempt.failed_collectors) {
    out << "collector " << failure["collector"].get<std::string>() << " failed: " << failure["error"].get<std::string>()
        << '\n';
  }
  out << attempt.rows.size() << " targets, " << attempt.down() << " down\n";
}

}  // namespace

int run_check_command(std::span<const CollectorKind> registry, const Config& config, const CheckOptions& options,
                      std::ostream& out, std::ostream& progress) {
  const auto selected = [&] {
    auto collectors = build_collectors(registry, config);
    if (!options.only.empty()) {
      std::erase_if(collectors, [&](const ScheduledCollector& collector) {
        return std::find(options.only.begin(), options.only.end(), collector.name) == options.only.end();
      });
    }
    return collectors;
  };
  const auto enabled = selected();
  for (const std::string& name : options.only) {
    if (std::none_of(enabled.begin(), enabled.end(), [&](const ScheduledCollector& c) { return c.name == name; })) {
      progress << "check --only " << name << ": the configuration does not enable the " << name << " collector\n";
      return kExitConfigError;
    }
  }

  const auto start = Clock::now();
  const auto give_up = start + options.wait;
  int attempts = 1;
  Attempt attempt = run_attempt(selected());
  while (!attempt.all_up && Clock::now() + kCheckRetryPause < give_up) {
    const auto left = std::chrono::duration_cast<Duration>(give_up - Clock::now());
    progress << "attempt " << attempts << ": " << attempt.down() << " of " << attempt.rows.size() << " targets down"
             << (attempt.failed_collectors.empty() ? "" : ", a collector failed") << "; again in "
             << format_duration(kCheckRetryPause) << " (" << format_duration(std::chrono::duration_cast<std::chrono::seconds>(left))
             << " left)\n";
    std::this_thread::sleep_for(kCheckRetryPause);
    ++attempts;
    attempt = run_attempt(selected());
  }
  const double waited = std::chrono::duration<double>(Clock::now() - start).count();

  if (options.format == CheckFormat::json) {
    print_json(attempt, attempts, waited, out);
  } else {
    print_text(attempt, out);
    if (options.wait.count() > 0) {
      out << (attempt.all_up ? "passed" : "still failing") << " after " << attempts
          << (attempts == 1 ? " attempt" : " attempts") << " in " << format_seconds(waited) << " (--wait "
          << format_duration(options.wait) << ")\n";
    }
  }
  return attempt.all_up ? kExitOk : kExitCheckFailed;
}

}  // namespace assets
