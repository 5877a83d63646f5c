// How long one backups collector run takes over a directory of many backup files, and how
// much its resident memory grows: the directory scan keeps a summary, not a file list, so
// growth must not depend on the file count. Not a test: `make bench` runs it, or bench/backups_scan.sh.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/collector.h"
#include "agent/config.h"
#include "bench/process_usage.h"
#include "tests/support/configured_collector.h"

namespace {

namespace fs = std::filesystem;
using namespace assets;
using bench::cpu_seconds;
using bench::resident_kib;

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line.substr(0, line.find(' ', line.find(' ', line.find(' ') + 1) + 1)) + "\n";
}

// `count` files, one a minute back from two days ago, plus the newest: a real-looking
// plain dump. The old files are empty (no data blocks), so 100,000 of them cost inodes only.
void fill(const fs::path& directory, int count) {
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < count - 1; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "assets_%06d.sql", i);
    const fs::path path = directory / name;
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    const auto when = std::chrono::system_clock::to_time_t(now - std::chrono::hours(48) - std::chrono::minutes(i));
    const timespec times[2] = {{when, 0}, {when, 0}};
    futimens(fd, times);
    close(fd);
  }
  std::ofstream(directory / "assets_newest.sql") << std::string(4096, '-')
                                                  << "\n--\n-- PostgreSQL database dump complete\n--\n\n";
  const auto when = std::chrono::system_clock::to_time_t(now - std::chrono::hours(1));
  const timespec times[2] = {{when, 0}, {when, 0}};
  utimensat(AT_FDCWD, (directory / "assets_newest.sql").c_str(), times, 0);
}

struct Measured {
  double wall = 0;
  double cpu = 0;
};

// Wall time depends on what else the machine runs; CPU time much less.
Measured measure(Collector& collector, double& files) {
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  const double cpu_before = cpu_seconds();
  const auto started = std::chrono::steady_clock::now();
  const CollectResult result = collector.run(context);
  Measured measured;
  measured.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  measured.cpu = cpu_seconds() - cpu_before;
  for (const auto& family : result.families) {
    if (family.name == "assets_backup_files") files = family.metric.at(0).gauge.value;
  }
  return measured;
}

}  // namespace

// Usage: backups_bench [FILES [RUNS]]: one line per run (each a fresh collector, so a full
// scan), then the verdict. `make bench` reads the run lines.
int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 6;
  std::string pattern = (fs::temp_directory_path() / "assets-backups-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return 1;
  const fs::path directory = pattern;
  fill(directory, count);

  const std::string yaml = "backups:\n  - name: bench\n    path: " + directory.string() +
                           "\n    pattern: \"assets_*.sql\"\n    retention: 400d\n";
  const long rss_before = resident_kib();
  double files = 0;
  Measured worst;
  for (int run = 1; run <= runs; ++run) {
    // The scheduler would skip a run until the interval passes; a fresh collector per run
    // forces a full scan (and one check of the newest file) each time.
    auto spec = testing::configured_collector("backups", yaml);
    if (!spec) return 1;
    const Measured measured = measure(*spec->collector, files);
    worst = {std::max(worst.wall, measured.wall), std::max(worst.cpu, measured.cpu)};
    std::printf("run %d: files=%d wall=%.6fs cpu=%.6fs rss_growth=%ldKiB\n", run, count, measured.wall, measured.cpu,
                resident_kib() - rss_before);
  }
  const long growth = resident_kib() - rss_before;
  fs::remove_all(directory);
  const bool ok = files == count && worst.wall < 1.0 && growth < 5 * 1024;
  std::printf("%s: files counted %.0f of %d, every run < 1 s (wall), RSS growth %ld KiB < 5 MiB; load average now %s",
              ok ? "PASS" : "FAIL", files, count, growth, load_average().c_str());
  return ok ? 0 : 1;
}
