#pragma once
// "host:port" as the config writes it. One parser decides for config validation and for
// every collector that connects, so `config check` never accepts what a check rejects.
#include <optional>
#include <string>
#include <string_view>

namespace assets {

struct HostPort {
  std::string host;  // without brackets
  std::string port;  // decimal, 1 to 65535
};

// Accepts "host:port" and "[v6]:port". A bare IPv6 address ("::1:5432") is ambiguous and
// rejected: it needs brackets.
std::optional<HostPort> split_host_port(std::string_view address);

}  // namespace assets
