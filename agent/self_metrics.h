#pragma once
// The agent's own metrics: build identity, start time, config reloads, and the standard
// process_* metrics read from /proc (procfs root configurable for tests).
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

namespace assets {

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;
  double open_fds = 0;
  double max_fds = 0;
  double threads = 0;
};

// Pure parsers of /proc files, for unit tests on fixtures.
// stat: contents of /proc/<pid>/stat; returns false when it does not parse.
bool parse_proc_stat(const std::string& stat, long clock_ticks, long page_size, double boot_time_seconds,
                     ProcessStats& out);
// limits: contents of /proc/<pid>/limits; returns the soft "Max open files", or -1.
double parse_max_open_files(const std::string& limits);
// /proc/stat: the btime line.
double parse_boot_time(const std::string& proc_stat);

ProcessStats read_process_stats(const std::string& proc_root = "/proc");

struct ReloadStatus {
  bool successful = false;
  double success_timestamp_seconds = 0;
};

std::vector<prometheus::MetricFamily> self_metric_families(double agent_start_time, const ReloadStatus& reload,
                                                           const ProcessStats& process);

}  // namespace assets
