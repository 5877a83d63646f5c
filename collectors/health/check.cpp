#include "collectors/health/check.h"

#include "agent/metrics.h"
#include "agent/secret.h"

namespace assets::health {

CheckResult failed(std::string_view failure_reason, std::string detail) {
  CheckResult result;
  result.up = false;
  result.reason = std::string(failure_reason);
  result.detail = std::move(detail);
  return result;
}

std::string sanitize_detail(std::string_view text, std::span<const std::string_view> secrets) {
  std::string redacted(text);
  for (const std::string_view secret : secrets) {
    if (secret.empty()) continue;
    for (auto at = redacted.find(secret); at != std::string::npos; at = redacted.find(secret, at)) {
      redacted.replace(at, secret.size(), Secret::kMask);
      at += std::string_view(Secret::kMask).size();
    }
  }
  std::string line;
  line.reserve(redacted.size());
  for (const char c : redacted) {
    const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space) {
      if (!line.empty() && line.back() != ' ') line += ' ';
    } else if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) {
      line += c;
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return bounded_label_value(line, kMaxDetailLength);
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace assets::health
