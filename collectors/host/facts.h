#pragma once
// The host facts file that deploy/host-facts/host-facts.sh writes as root and the host
// collector reads unprivileged (schema in deploy/host-facts/README.md, version 1).
// Parsing apart from I/O. The file crosses a privilege boundary the other way too: the
// agent trusts nothing in it beyond the schema, and every label value it yields is bounded.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace assets {

inline constexpr std::uint64_t kMaxHostFactsFileBytes = 64 * 1024;
inline constexpr std::size_t kMaxFail2banJails = 32;

// What every section says of its tool: installed, and whether its status command answered.
// A section's facts are set only when it answered.
struct HostTool {
  bool installed = false;
  bool answered = false;
};

struct UfwFacts : HostTool {
  bool active = false;
  std::optional<std::string> default_incoming;  // allow, deny or reject; only while active
};

struct Fail2banFacts : HostTool {
  bool running = false;
  std::map<std::string, std::int64_t> banned_by_jail;
};

struct SshdFacts : HostTool {
  bool password_authentication = false;
  std::string permit_root_login;  // yes, no, prohibit-password or forced-commands-only
};

struct UnattendedUpgradesFacts : HostTool {
  bool enabled = false;
};

struct AptFacts : HostTool {
  std::int64_t security_updates = 0;
  std::optional<double> security_updates_since;  // Unix seconds; only while some are pending
};

struct HostFacts {
  double collected_at = 0;  // Unix seconds
  UfwFacts ufw;
  Fail2banFacts fail2ban;
  SshdFacts sshd;
  UnattendedUpgradesFacts unattended_upgrades;
  AptFacts apt;
};

// The values the label `policy` of the firewall and `mode` of PermitRootLogin take.
inline constexpr std::string_view kUfwPolicies[] = {"allow", "deny", "reject"};
inline constexpr std::string_view kPermitRootLoginModes[] = {"yes", "no", "prohibit-password", "forced-commands-only"};

// nullopt with `error` set (a short, printable message naming the key) for anything that
// is not a version 1 facts document.
std::optional<HostFacts> parse_host_facts(std::string_view text, std::string& error);

}  // namespace assets
