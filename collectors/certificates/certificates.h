#pragma once
// Certificate expiry of files (globs with "**", PEM bundles and DER) and of live TLS
// endpoints (the chain they serve), under one metric schema. See docs/metrics.md.
#include <optional>

#include "agent/collector.h"

namespace assets {

std::optional<CollectorSpec> make_certificates_collector(const Config& config);

}  // namespace assets
