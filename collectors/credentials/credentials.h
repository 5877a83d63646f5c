#pragma once
// Credential rotation: the modification time of each credential file (a Docker secret, a
// token file) against its max_age, from stat() alone; contents are never read.
#include <memory>
#include <string>

#include "agent/collector.h"
#include "collectors/credentials/config.h"

namespace assets {

// Pure: the status line of a credential file modified `age` ago, for the status page and
// `assets-agent check`.
std::string describe_rotation(Duration age, const CredentialConfig& policy);

std::unique_ptr<Collector> make_credentials_collector(const CredentialsConfig& config);

}  // namespace assets
