// The table of collectors. Adding a collector: its own file pair plus one line here.
#include "agent/collector.h"
#include "collectors/backups/backups.h"
#include "collectors/certificates/certificates.h"
#include "collectors/containers/containers.h"
#include "collectors/health/health.h"

namespace assets {
namespace {

// The global section gives every collector its defaults, so it is part of each one's settings.
constexpr RegistryEntry kRegistry[] = {
    {"health", make_health_collector,
     [](const Config& a, const Config& b) { return a.global == b.global && a.health == b.health; }},
    {"containers", make_containers_collector,
     [](const Config& a, const Config& b) { return a.global == b.global && a.containers == b.containers; }},
    {"backups", make_backups_collector,
     [](const Config& a, const Config& b) { return a.global == b.global && a.backups == b.backups; }},
    {"certificates", make_certificates_collector,
     [](const Config& a, const Config& b) { return a.global == b.global && a.certificates == b.certificates; }},
};

}  // namespace

std::span<const RegistryEntry> collector_registry() { return kRegistry; }

}  // namespace assets
