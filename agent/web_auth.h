#pragma once
// Who may read the endpoints: basic auth against bcrypt hashes (verified with libcrypt,
// with verdicts cached, since bcrypt costs tens of milliseconds by design and Prometheus
// sends the same credentials every scrape) or a bearer token, compared in constant time.
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/web_config.h"

namespace assets {

class WebAuthenticator {
 public:
  explicit WebAuthenticator(const WebConfig& config);

  // Whether a request for `path` with this Authorization header (null: none) is served.
  bool allows(std::string_view path, const char* authorization) const;
  // The WWW-Authenticate value of a 401 answer.
  const std::string& challenge() const { return challenge_; }

 private:
  using Digest = std::array<std::uint8_t, 32>;
  bool basic_allows(std::string_view credentials) const;
  bool bearer_allows(std::string_view token) const;

  std::map<std::string, Secret, std::less<>> users_;
  Digest bearer_digest_{};
  bool has_bearer_ = false;
  std::vector<std::string> open_paths_;
  std::string challenge_;
  // SHA-256 of (user, password, hash) of credentials that passed; bounded, emptied when
  // full. Failures are not kept, so a flood of wrong passwords evicts nobody.
  mutable std::mutex cache_mutex_;
  mutable std::set<Digest> accepted_;
  // One bcrypt at a time, as exporter-toolkit does: a flood of wrong passwords costs one
  // core, not every worker's.
  mutable std::mutex bcrypt_mutex_;
};

}  // namespace assets
