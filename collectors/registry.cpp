// The table of collectors. Adding a collector: its own file pair plus one line here.
#include "agent/collector.h"
#include "collectors/backups.h"
#include "collectors/certificates.h"
#include "collectors/containers.h"
#include "collectors/health.h"

namespace assets {
namespace {

constexpr RegistryEntry kRegistry[] = {
    {"health", make_health_collector},
    {"containers", make_containers_collector},
    {"backups", make_backups_collector},
    {"certificates", make_certificates_collector},
};

}  // namespace

std::span<const RegistryEntry> collector_registry() { return kRegistry; }

}  // namespace assets
