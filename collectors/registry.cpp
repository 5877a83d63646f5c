// The table of collectors. Adding a collector: its folder under collectors/ (the collector,
// its config section with a decode function, a CMakeLists.txt), its folder's name in the
// top CMakeLists.txt, and one row here. See docs/architecture.md.
#include "agent/collector.h"
#include "collectors/backups/backups.h"
#include "collectors/certificates/certificates.h"
#include "collectors/containers/containers.h"
#include "collectors/health/health.h"

namespace assets {
namespace {

constexpr CollectorKind kRegistry[] = {
    collector_kind<HealthConfig, make_health_collector>("health", decode_health_section),
    collector_kind<ContainersConfig, make_containers_collector>("containers", decode_containers_section),
    collector_kind<BackupsConfig, make_backups_collector>("backups", decode_backups_section),
    collector_kind<CertificatesConfig, make_certificates_collector>("certificates", decode_certificates_section),
};

}  // namespace

std::span<const CollectorKind> collector_registry() { return kRegistry; }

}  // namespace assets
