#pragma once
// Certificate expiry of files (globs with "**", PEM bundles and DER) and of live TLS
// endpoints (the chain they serve), under one metric schema. See docs/metrics.md.
#include <memory>

#include "agent/collector.h"
#include "collectors/certificates/config.h"

namespace assets {

std::unique_ptr<Collector> make_certificates_collector(const CertificatesConfig& config);

}  // namespace assets
