#pragma once
// `assets-agent check`: every enabled collector (or those `--only` names) runs once; a
// table (or JSON) of every target follows. With `--wait`, failing runs are repeated until
// every target passes or the time is up: the rollout's post-deploy gate.
#include <chrono>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "agent/collector.h"

namespace assets {

enum class CheckFormat { text, json };

struct CheckOptions {
  CheckFormat format = CheckFormat::text;
  // How long to keep retrying a failing check; zero: one attempt. A new attempt starts
  // only while this lasts, and takes at most each collector's timeout.
  Duration wait{0};
  // Registry names of the collectors to run; empty: every enabled collector.
  std::vector<std::string> only;
};

// The pause between two attempts under --wait: a starting service gets time to come up,
// and a check of many targets is not run back to back.
inline constexpr Duration kCheckRetryPause = std::chrono::seconds(2);

// Returns the exit code: 0 when every target is up and every collector ran, 1 otherwise,
// 2 when --only names a collector the configuration does not enable. `progress` gets a
// line per failed attempt under --wait (stderr), so `out` holds only the final result.
int run_check_command(std::span<const CollectorKind> registry, const Config& config, const CheckOptions& options,
                      std::ostream& out, std::ostream& progress);

}  // namespace assets
