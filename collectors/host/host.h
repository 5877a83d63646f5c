#pragma once
// Host protections: reads the facts file that the root-run helper deploy/host-facts writes
// (UFW, fail2ban, sshd, unattended-upgrades, pending security updates) and exports each
// fact, so the agent itself needs no privilege to watch them.
#include <memory>

#include "agent/collector.h"
#include "collectors/host/config.h"

namespace assets {

std::unique_ptr<Collector> make_host_collector(const HostConfig& config);

}  // namespace assets
