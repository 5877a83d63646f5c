#pragma once
#include <optional>

#include "agent/collector.h"

namespace assets {

std::optional<CollectorSpec> make_health_collector(const Config& config);

}  // namespace assets
