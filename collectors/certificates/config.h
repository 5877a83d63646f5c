#pragma once
// The certificates collector's section: certificate files by glob and live TLS endpoints,
// with the expiry thresholds the alerts use.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/collector.h"

namespace assets {

struct CertEndpointConfig {
  std::string address;      // host:port as written
  std::string server_name;  // default: the host part of address
  Duration timeout{};       // the section's where the endpoint gives none
  std::string ca_file;
  std::optional<Duration> expiry_warning;
  std::optional<Duration> expiry_critical;
  bool operator==(const CertEndpointConfig&) const = default;
};

struct CertificatesConfig : CollectorSection {
  std::vector<std::string> files;    // globs, "**" allowed
  std::vector<std::string> exclude;  // globs
  std::vector<CertEndpointConfig> endpoints;
  Duration expiry_warning = 21 * std::chrono::hours(24);
  Duration expiry_critical = 7 * std::chrono::hours(24);
  std::uint64_t max_file_bytes = 1 << 20;
  int max_parallel = 16;
  bool operator==(const CertificatesConfig&) const = default;
};

// `certificates:` alone enables the defaults; nullptr with `enabled: false`.
std::shared_ptr<const CertificatesConfig> decode_certificates_section(const SectionInput& input);

}  // namespace assets
