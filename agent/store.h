#pragma once
// Holds the latest result of every collector and publishes an immutable Snapshot: the
// /metrics body and its gzip, rendered once per change, never per scrape.
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collector.h"
#include "agent/self_metrics.h"

namespace assets {

struct CollectorRun {
  bool success = false;
  double duration_seconds = 0;
  double timestamp_seconds = 0;  // Unix time the run finished
  std::string error;             // why it failed; empty on success
  CollectResult result;
};

struct RenderedRun;

struct CollectorView {
  std::string name;
  bool has_run = false;
  bool success = false;
  double duration_seconds = 0;
  double last_run_timestamp_seconds = 0;
  // The latest run's start; after last_run_timestamp_seconds while that run goes on.
  double run_start_timestamp_seconds = 0;
  double timeout_seconds = 0;
  std::string error;
  std::vector<TargetStatus> targets;
};

struct Snapshot {
  std::string text;  // text exposition format 0.0.4
  std::string gzip;  // the same, gzip-compressed
  std::vector<CollectorView> collectors;
  bool ready = false;  // every collector has run at least once
  ReloadStatus reload;
  std::string config_source;
};

// A run with its families serialised, ready to be recorded.
struct RenderedRun {
  CollectorRun run;
  std::string text;
};

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string gzip_compress(std::string_view data);

class Store {
 public:
  explicit Store(double agent_start_time);

  // The collectors of the current configuration. Results of collectors that stay are kept
  // until their next run; the others are dropped.
  void set_collectors(const std::vector<std::string>& names, std::string config_source);
  // A run begins. Shown from the next publication on (a record, or refresh(), which the
  // daemon calls every 5 s): enough to see a run that never ends, without re-rendering
  // /metrics at the start of every run.
  void run_started(const std::string& name, double unix_time, double timeout_seconds);
  // Serialises a run's families, the costly part of recording it; takes no lock.
  static RenderedRun render(CollectorRun run);
  // Ignored when `name` is not a current collector (a run that outlived a reload).
  void record(const std::string& name, RenderedRun rendered);
  void record(const std::string& name, CollectorRun run) { record(name, render(std::move(run))); }
  void set_reload_status(ReloadStatus status);
  // Re-renders with fresh process metrics.
  void refresh();

  std::shared_ptr<const Snapshot> snapshot() const;

 private:
  struct Entry {
    CollectorView view;
    std::string text;  // this collector's families, serialised once per run
  };
  void publish_locked();

  std::mutex mutex_;
  double agent_start_time_;
  std::vector<Entry> entries_;
  ReloadStatus reload_;
  std::string config_source_;

  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace assets
