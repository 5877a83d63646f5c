#pragma once
// The credentials collector's section: files whose age says when a secret was last
// rotated (Docker secrets, token files), each with the rotation policy the alerts use.
#include <memory>
#include <string>
#include <vector>

#include "agent/collector.h"

namespace assets {

struct CredentialConfig {
  std::string name;  // the `credential` label: what is rotated, e.g. db_password
  std::string path;  // a file, or a glob (`*`, `?`, `[...]`) for several
  Duration max_age{};
  Duration warn_before{};
  bool operator==(const CredentialConfig&) const = default;
};

struct CredentialsConfig : CollectorSection {
  std::vector<CredentialConfig> files;
  bool operator==(const CredentialsConfig&) const = default;
};

// The section's max_age (default 90 days, as the operations guide rotates tokens) and
// warn_before (default 14 days) apply to every file that gives none.
std::shared_ptr<const CredentialsConfig> decode_credentials_section(const SectionInput& input);

}  // namespace assets
