#pragma once
// TCP checks: connect (optionally TLS via OpenSSL), optionally send bytes and wait until
// the answer matches `expect` (e.g. Redis: send "PING\r\n", expect "^\+PONG").
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "collectors/health/config.h"
#include "collectors/health/check.h"

namespace re2 {
class RE2;
}

namespace assets::health {

// Matches `expect` against an answer as it arrives. Matching the whole buffer again after
// every read costs time quadratic in the answer; this matches when the peer pauses or
// ends, and otherwise only once the buffer has doubled since the last attempt, so the cost
// stays linear in what arrives.
class ExpectMatcher {
 public:
  explicit ExpectMatcher(const re2::RE2& expect) : expect_(expect) {}
  void append(std::string_view data) { received_.append(data); }
  // Matches when due, or now when `pausing` (nothing more to read for now, or the end).
  bool matched(bool pausing);
  std::size_t size() const { return received_.size(); }

 private:
  const re2::RE2& expect_;
  std::string received_;
  std::size_t size_at_last_attempt_ = 0;
  bool attempted_ = false;
};

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
};

}  // namespace assets::health
