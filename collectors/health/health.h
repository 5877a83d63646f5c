#pragma once
#include <memory>

#include "agent/collector.h"
#include "collectors/health/config.h"

namespace assets {

std::unique_ptr<Collector> make_health_collector(const HealthConfig& section);

}  // namespace assets
