#include "agent/self_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agent/build_info.h"
#include "agent/metrics.h"

namespace assets {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

double count_open_fds(const std::string& dir) {
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return 0;
  double count = 0;
  while (const dirent* entry = readdir(handle)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(handle);
  return count - 1;  // the descriptor opendir itself holds
}

}  // namespace

bool parse_proc_stat(const std::string& stat, long clock_ticks, long page_size, double boot_time_seconds,
                     ProcessStats& out) {
  // The command name (field 2) is in parentheses and may hold spaces: fields start after ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos || clock_ticks <= 0) return false;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  std::vector<std::string> values;
  while (fields >> field) values.push_back(field);
  // values[0] is field 3 (state); utime=14, stime=15, num_threads=20, starttime=22, vsize=23, rss=24.
  if (values.size() < 22) return false;
  auto number = [&](std::size_t field_number) { return std::strtod(values[field_number - 3].c_str(), nullptr); };
  const double ticks = static_cast<double>(clock_ticks);
  out.cpu_seconds = (number(14) + number(15)) / ticks;
  out.threads = number(20);
  out.start_time_seconds = boot_time_seconds + number(22) / ticks;
  out.virtual_bytes = number(23);
  out.resident_bytes = number(24) * static_cast<double>(page_size);
  return true;
}

double parse_max_open_files(const std::string& limits) {
  std::istringstream lines(limits);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("Max open files", 0) == 0) {
      std::istringstream fields(line.substr(14));
      std::string soft;
      fields >> soft;
      return soft == "unlimited" ? -1 : std::strtod(soft.c_str(), nullptr);
    }
  }
  return -1;
}

double parse_boot_time(const std::string& proc_stat) {
  const auto pos = proc_stat.find("\nbtime ");
  if (pos == std::string::npos) return 0;
  return std::strtod(proc_stat.c_str() + pos + 7, nullptr);
}

ProcessStats read_process_stats(const std::string& proc_root) {
  ProcessStats stats;
  const std::string self = proc_root + "/self";
  parse_proc_stat(read_text(self + "/stat"), sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE),
                  parse_boot_time(read_text(proc_root + "/stat")), stats);
  stats.open_fds = count_open_fds(self + "/fd");
  stats.max_fds = parse_max_open_files(read_text(self + "/limits"));
  return stats;
}

std::vector<prometheus::MetricFamily> self_metric_families(double agent_start_time, const ReloadStatus& reload,
                                                           const ProcessStats& process) {
  MetricsBuilder builder;
  builder.gauge("assets_agent_build_info", "Build identity of the running agent; always 1.")
      .add({{"version", build::kVersion}, {"revision", build::kRevision}, {"cxx", build::kCompiler}}, 1);
  builder.gauge("assets_agent_start_time_seconds", "Unix time the agent process started.").add({}, agent_start_time);
  builder.gauge("assets_agent_config_last_reload_successful", "Whether the last configuration (re)load succeeded.")
      .add({}, reload.successful ? 1 : 0);
  builder
      .gauge("assets_agent_config_last_reload_success_timestamp_seconds",
             "Unix time of the last successful configuration (re)load.")
      .add({}, reload.success_timestamp_seconds);
  std::vector<prometheus::MetricFamily> families = builder.take();

  auto process_family = [&](const char* name, const char* help, prometheus::MetricType type, double value) {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = type;
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
    families.push_back(std::move(family));
  };
  using prometheus::MetricType;
  process_family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
                 process.cpu_seconds);
  process_family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
                 process.resident_bytes);
  process_family("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
                 process.virtual_bytes);
  process_family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                 MetricType::Gauge, process.start_time_seconds);
  process_family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, process.open_fds);
  if (process.max_fds >= 0) {
    process_family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge, process.max_fds);
  }
  process_family("process_threads", "Number of OS threads in the process.", MetricType::Gauge, process.threads);
  return families;
}

}  // namespace assets
