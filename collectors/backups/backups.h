#pragma once
#include <memory>

#include "agent/collector.h"
#include "collectors/backups/config.h"

namespace assets {

std::unique_ptr<Collector> make_backups_collector(const BackupsConfig& config);

}  // namespace assets
