// How much CPU the certificates collector spends on many certificate files: a cold run
// (empty parse cache) and warm runs (every file unchanged, so only stat and metrics).
// Not a test: `make bench` runs it, or bench/certificates_scan.sh.
// Usage: certificates_bench [FILES [RUNS [FOLDER]]]: one line per run.

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
#include "tests/support/cert_factory.h"

namespace {

namespace fs = std::filesystem;
using namespace assets;
using bench::cpu_seconds;
using bench::resident_kib;
using namespace assets::testing;

struct Measured {
  double cpu = 0;
  double wall = 0;
  std::size_t targets = 0;
  std::size_t up = 0;
  std::size_t samples = 0;
};

Measured measure(Collector& collector) {
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  const double cpu_before = cpu_seconds();
  const auto wall_before = std::chrono::steady_clock::now();
  const CollectResult result = collector.run(context);
  Measured measured;
  measured.cpu = cpu_seconds() - cpu_before;
  measured.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  measured.targets = result.targets.size();
  for (const auto& target : result.targets) measured.up += target.up ? 1 : 0;
  for (const auto& family : result.families) measured.samples += family.metric.size();
  return measured;
}

}  // namespace

int main(int argc, char** argv) {
  const int files = argc > 1 ? std::atoi(argv[1]) : 10'000;
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  const fs::path root = argc > 3 ? fs::path(argv[3]) : fs::temp_directory_path() / "assets-certificates-bench";
  constexpr int kDistinct = 200;
  constexpr int kPerDirectory = 100;

  fs::remove_all(root);
  const auto chain = make_chain(CertificateSpec{});
  std::vector<std::string> contents;
  for (int i = 0; i < kDistinct; ++i) {
    CertificateSpec leaf;
    leaf.common_name = "site-" + std::to_string(i) + ".bench.test";
    leaf.dns_names = {leaf.common_name, "www." + leaf.common_name};
    leaf.not_after = from_now(std::chrono::days(10 + i % 80));
    leaf.key = PrivateKey::shared(KeyAlgorithm::ecdsa_p256);
    contents.push_back(Certificate::make(leaf, &chain.intermediate).pem() + chain.intermediate.pem());
  }
  // certbot-like fullchain.pem files (leaf + intermediate), 100 to a directory.
  for (int i = 0; i < files; ++i) {
    write_file(root / ("d" + std::to_string(i / kPerDirectory)) / ("site-" + std::to_string(i) + ".pem"),
               contents[static_cast<std::size_t>(i % kDistinct)]);
  }

  const std::string yaml = "certificates:\n  files: [\"" + (root / "**/*.pem").string() + "\"]\n";
  std::printf("files %d (pattern %s/**/*.pem, 2 certificates each)\n", files, root.c_str());
  const long rss_before = resident_kib();
  bool all_up = true;
  for (int run = 1; run <= runs; ++run) {
    // A fresh collector has an empty parse cache: a cold run; the same one again finds
    // every file unchanged: a warm run.
    auto spec = testing::configured_collector("certificates", yaml);
    if (!spec) {
      std::fprintf(stderr, "bench config enables no certificates collector\n");
      return 2;
    }
    const Measured cold = measure(*spec->collector);
    const Measured warm = measure(*spec->collector);
    all_up = all_up && cold.up == static_cast<std::size_t>(files) && warm.up == cold.up;
    std::printf("run %d: cold wall=%.6fs cpu=%.6fs warm wall=%.6fs cpu=%.6fs targets=%zu up=%zu samples=%zu "
                "rss_growth=%ldKiB\n",
                run, cold.wall, cold.cpu, warm.wall, warm.cpu, cold.targets, cold.up, cold.samples,
                resident_kib() - rss_before);
  }
  fs::remove_all(root);
  return all_up ? 0 : 1;
}
