#pragma once
// DNS checks (blackbox_exporter's dns prober): one query to the system's resolvers or a
// given server. c-ares sends it (UDP, TCP when the answer is truncated or `transport: tcp`)
// without blocking, so the check's deadline and a stop request end it; glibc's libresolv
// (ns_initparse, ns_parserr, ns_sprintrr) reads the answer.
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/health/check.h"
#include "collectors/health/config.h"

namespace assets::health {

// Pure: an answer's rcode and record counts against the check's valid_rcodes and record
// rules. `failure_reason` is empty when the answer passes.
struct DnsVerdict {
  bool parsed = false;  // facts hold the answer's rcode and counts
  DnsFacts facts;
  std::string failure_reason;  // status (rcode), body (a record rule), protocol (unparsable)
  std::string detail;
};
DnsVerdict evaluate_dns_answer(std::string_view message, const DnsCheck& check);

// The text form of every record of one section of `message`, as the rules see it:
// `name. ttl IN TYPE data` (libresolv's presentation format, one space between fields).
std::optional<std::vector<std::string>> dns_section_records(std::string_view message, int section);

void init_dns();

class DnsProbe {
 public:
  DnsProbe(const DnsCheck& config, Duration timeout);

  Duration timeout() const { return timeout_; }
  // Blocks for at most the check's timeout (or until `deadline`, if earlier).
  // nullopt when `stop` was requested before the check finished.
  std::optional<CheckResult> run(Clock::time_point deadline, std::stop_token stop) const;

 private:
  DnsCheck config_;
  Duration timeout_;
};

}  // namespace assets::health
