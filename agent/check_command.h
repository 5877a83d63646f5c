#pragma once
// `assets-agent check`: every enabled collector runs once; a table (or JSON) of every
// target follows. The post-deploy gate and the nightly smoke test.
#include <iosfwd>
#include <span>

#include "agent/collector.h"

namespace assets {

enum class CheckFormat { text, json };

// Returns the exit code: 0 when every target is up and every collector ran, 1 otherwise.
int run_check_command(std::span<const CollectorKind> registry, const Config& config, CheckFormat format,
                      std::ostream& out);

}  // namespace assets
