#pragma once
// TCP checks: connect (optionally TLS via OpenSSL), optionally send bytes and wait until
// the answer matches `expect` (e.g. Redis: send "PING\r\n", expect "^\+PONG").
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "agent/config.h"
#include "collectors/health_check.h"

namespace re2 {
class RE2;
}

namespace assets::health {

class TcpProbe {
 public:
  TcpProbe(const TcpCheck& config, Duration timeout);
  ~TcpProbe();
  TcpProbe(const TcpProbe&) = delete;
  TcpProbe& operator=(const TcpProbe&) = delete;

  Duration timeout() const { return timeout_; }
  // Blocks for at most the check's timeout (or until `deadline`, if earlier).
  // nullopt when `stop` was requested before the check finished.
  std::optional<CheckResult> run(Clock::time_point deadline, std::stop_token stop) const;

 private:
  TcpCheck config_;
  Duration timeout_;
  std::unique_ptr<re2::RE2> expect_;  // null when no expect is configured
};

}  // namespace assets::health
