#pragma once
// collectors/net's failures in the reason labels of the tcp and postgres checks.
#include <string_view>

#include "collectors/net/socket.h"

namespace assets::health {

// A connect() that timed out in the kernel is a timeout; any other connect() error means
// nothing accepts connections at that address, so refused and unreachable alike are
// `refused`. A stop maps to `other`: a stopped check reports nothing.
std::string_view reason_of(const net::Failure& failure);

}  // namespace assets::health
