// The table of collectors. Adding a collector: its folder under collectors/ (the collector,
// its config section with a decode function, a CMakeLists.txt), its folder's name in the
// top CMakeLists.txt, and one row here. See docs/architecture.md.
#include "agent/collector.h"
#include "collectors/backups/backups.h"
#include "collectors/certificates/certificates.h"
#include "collectors/containers/containers.h"
#include "collectors/credentials/credentials.h"
#include "collectors/health/health.h"
#include "collectors/host/host.h"
#include "collectors/maintenance/maintenance.h"

namespace assets {
namespace {

constexpr CollectorKind kRegistry[] = {
    collector_kind<HealthConfig, decode_health_section, make_health_collector>("health"),
    collector_kind<ContainersConfig, decode_containers_section, make_containers_collector>("containers"),
    collector_kind<BackupsConfig, decode_backups_section, make_backups_collector>("backups"),
    collector_kind<CertificatesConfig, decode_certificates_section, make_certificates_collector>("certificates"),
    collector_kind<CredentialsConfig, decode_credentials_section, make_credentials_collector>("credentials"),
    collector_kind<MaintenanceConfig, decode_maintenance_section, make_maintenance_collector>("maintenance"),
    collector_kind<HostConfig, decode_host_section, make_host_collector>("host"),
};

}  // namespace

std::span<const CollectorKind> collector_registry() { return kRegistry; }

}  // namespace assets
