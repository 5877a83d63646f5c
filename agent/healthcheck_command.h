#pragma once
// `assets-agent healthcheck`: one GET of the agent's own /healthz, for a container engine's
// HEALTHCHECK (the runtime image has no curl or wget). Prints one line that says why.
#include <iosfwd>
#include <string>

#include "agent/units.h"

namespace assets {

struct HealthcheckOptions {
  std::string url = "http://127.0.0.1:9842/healthz";
  Duration timeout = std::chrono::seconds(5);
  // For an agent that serves TLS: its certificate names the host's public name, not 127.0.0.1.
  bool insecure_skip_verify = false;
};

// Returns the exit code: 0 on a 2xx answer, 1 on anything else (Docker reserves 2).
int run_healthcheck_command(const HealthcheckOptions& options, std::ostream& out);

}  // namespace assets
