#include "collectors/host/host.h"

#include <cerrno>
#include <chrono>
#include <string_view>

#include "agent/files.h"
#include "agent/metrics.h"
#include "agent/reason.h"
#include "agent/units.h"
#include "collectors/host/facts.h"

namespace assets {
namespace {

std::string_view read_failure_reason(int error_number) {
  if (error_number == ENOENT || error_number == ENOTDIR) return reason::kNotFound;
  if (error_number == EACCES || error_number == EPERM) return reason::kPermissionDenied;
  // Not a regular file, or larger than any facts file the helper writes.
  if (error_number == 0) return "invalid";
  return reason::kOther;
}

// NTP may step the clock a little; more than this is a clock problem.
constexpr double kClockSkewAllowance = 300;

std::string on_off(bool on) { return on ? "on" : "off"; }

// The status page's one line: what an operator checks first after a change on the host.
std::string describe(const HostFacts& facts) {
  std::string text;
  const auto add = [&](std::string part) { text += (text.empty() ? "" : ", ") + std::move(part); };
  const auto tool = [](const HostTool& t, std::string answered) {
    return !t.installed ? "not installed" : !t.answered ? "did not answer" : std::move(answered);
  };
  add("ufw " + tool(facts.ufw, facts.ufw.active ? "active (" + facts.ufw.default_incoming.value_or("") + " incoming)"
                                                 : "inactive"));
  std::string jails;
  for (const auto& [jail, banned] : facts.fail2ban.banned_by_jail) {
    jails += (jails.empty() ? " (" : ", ") + jail + " " + std::to_string(banned) + " banned";
  }
  if (!jails.empty()) jails += ")";
  add("fail2ban " + tool(facts.fail2ban, (facts.fail2ban.running ? "running" : "stopped") + jails));
  add("sshd " + tool(facts.sshd, "password login " + on_off(facts.sshd.password_authentication) +
                                      ", root login " + facts.sshd.permit_root_login));
  add("unattended-upgrades " + tool(facts.unattended_upgrades, on_off(facts.unattended_upgrades.enabled)));
  add("apt " + tool(facts.apt, std::to_string(facts.apt.security_updates) + " security updates pending"));
  return text;
}

class HostCollector final : public Collector {
 public:
  explicit HostCollector(HostConfig config) : config_(std::move(config)) {}

 protected:
  CollectResult collect(const CollectContext& /*context*/) override {
    MetricsBuilder builder;
    GaugeFamily& facts_up = builder.gauge("assets_host_facts_up",
                                          "1 when the host facts file was read and has the expected schema (cached from the last background run).");
    GaugeFamily& facts_failure = builder.gauge(
        "assets_host_facts_failure", "Present (1) while the host facts file cannot be used; reason says why.");
    GaugeFamily& collected = builder.gauge("assets_host_facts_timestamp_seconds",
                                           "When the root-run helper gathered the host facts, Unix seconds (cached from the last background run).");
    GaugeFamily& stale_after = builder.gauge("assets_host_facts_stale_after_seconds",
                                             "Policy: the host facts are stale when older than this.");
    GaugeFamily& max_pending = builder.gauge(
        "assets_host_security_updates_max_pending_seconds", "Policy: security updates may be pending this long.");
    stale_after.add({}, to_seconds(config_.stale_after));
    max_pending.add({}, to_seconds(config_.security_updates_max_pending));

    CollectResult result;
    TargetStatus& status = result.targets.emplace_back();
    status.name = config_.facts_file;
    status.kind = "host";

    FileReadError read_error;
    const auto text = read_regular_file(config_.facts_file, kMaxHostFactsFileBytes, read_error);
    std::optional<HostFacts> facts;
    if (!text) {
      status.reason = read_failure_reason(read_error.error_number);
      status.detail = read_error.message;
    } else {
      std::string parse_error;
      facts = parse_host_facts(*text, parse_error);
      if (!facts) {
        status.reason = "invalid";
        status.detail = config_.facts_file + ": " + parse_error;
      }
    }
    // Facts from the future (a clock set back, a helper with a wrong clock) would never go
    // stale: unusable until the helper writes them again.
    const double now = unix_time_now();
    if (facts && facts->collected_at > now + kClockSkewAllowance) {
      status.reason = "future";
      status.detail = config_.facts_file + ": gathered " +
                      format_duration(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(facts->collected_at - now))) +
                      " in the future (check the clock)";
      facts.reset();
    }
    facts_up.add({}, facts ? 1 : 0);
    if (!facts) {
      facts_failure.add({{"reason", status.reason}}, 1);
      result.families = builder.take();
      return result;
    }
    collected.add({}, facts->collected_at);
    export_facts(builder, *facts);

    const double age = now - facts->collected_at;
    status.up = age <= to_seconds(config_.stale_after);
    status.detail = describe(*facts);
    if (!status.up) {
      status.reason = "stale";
      status.detail = "gathered " + format_duration(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(age))) + " ago, longer than stale_after " +
                      format_duration(config_.stale_after) + ": " + status.detail;
    }
    result.families = builder.take();
    return result;
  }

 private:
  static void export_facts(MetricsBuilder& builder, const HostFacts& facts) {
    GaugeFamily& installed = builder.gauge("assets_host_tool_installed",
                                           "1 when the tool the host facts read is installed on the host.");
    GaugeFamily& tool_up = builder.gauge("assets_host_tool_up",
                                         "1 when the tool is installed and its status command answered the helper.");
    for (const auto& [name, tool] : {std::pair<std::string, const HostTool*>{"ufw", &facts.ufw},
                                     {"fail2ban", &facts.fail2ban},
                                     {"sshd", &facts.sshd},
                                     {"unattended_upgrades", &facts.unattended_upgrades},
                                     {"apt", &facts.apt}}) {
      installed.add({{"tool", name}}, tool->installed ? 1 : 0);
      tool_up.add({{"tool", name}}, tool->answered ? 1 : 0);
    }

    // Without ufw there is no firewall to speak of: 0, so the firewall alert fires.
    GaugeFamily& firewall = builder.gauge("assets_host_firewall_active", "1 while UFW is active.");
    GaugeFamily& incoming = builder.gauge("assets_host_firewall_default_incoming_policy",
                                          "UFW's default policy for incoming traffic, one-hot; only while active.");
    if (!facts.ufw.installed || facts.ufw.answered) firewall.add({}, facts.ufw.active ? 1 : 0);
    if (facts.ufw.default_incoming) {
      for (const auto policy : kUfwPolicies) {
        incoming.add({{"policy", std::string(policy)}}, *facts.ufw.default_incoming == policy ? 1 : 0);
      }
    }

    // fail2ban is one of two ways to protect SSH (UFW's limit is the other): a host without
    // it gets no series, a host where it is installed and stopped gets 0.
    GaugeFamily& fail2ban = builder.gauge("assets_host_fail2ban_running", "1 while the fail2ban server answers.");
    GaugeFamily& banned = builder.gauge("assets_host_fail2ban_banned", "Addresses fail2ban currently bans, per jail.");
    if (facts.fail2ban.answered) {
      fail2ban.add({}, facts.fail2ban.running ? 1 : 0);
      for (const auto& [jail, count] : facts.fail2ban.banned_by_jail) {
        banned.add({{"jail", jail}}, static_cast<double>(count));
      }
    }

    GaugeFamily& password = builder.gauge("assets_host_ssh_password_authentication",
                                          "1 when sshd's effective PasswordAuthentication is yes (sshd -T).");
    GaugeFamily& root_login = builder.gauge("assets_host_ssh_permit_root_login",
                                            "sshd's effective PermitRootLogin (sshd -T), one-hot.");
    if (facts.sshd.answered) {
      password.add({}, facts.sshd.password_authentication ? 1 : 0);
      for (const auto mode : kPermitRootLoginModes) {
        root_login.add({{"mode", std::string(mode)}}, facts.sshd.permit_root_login == mode ? 1 : 0);
      }
    }

    GaugeFamily& unattended = builder.gauge("assets_host_unattended_upgrades_enabled",
                                            "1 when unattended-upgrades is installed and enabled in APT::Periodic.");
    if (!facts.unattended_upgrades.installed || facts.unattended_upgrades.answered) {
      unattended.add({}, facts.unattended_upgrades.enabled ? 1 : 0);
    }

    GaugeFamily& pending = builder.gauge("assets_host_security_updates_pending",
                                         "Security updates apt would install (apt-get -s, as of apt's last update).");
    GaugeFamily& pending_since = builder.gauge(
        "assets_host_security_updates_pending_since_timestamp_seconds",
        "Since when security updates have been pending, Unix seconds; absent while none are.");
    if (facts.apt.answered) {
      pending.add({}, static_cast<double>(facts.apt.security_updates));
      if (facts.apt.security_updates_since) pending_since.add({}, *facts.apt.security_updates_since);
    }
  }

  HostConfig config_;
};

}  // namespace

std::unique_ptr<Collector> make_host_collector(const HostConfig& config) {
  return std::make_unique<HostCollector>(config);
}

}  // namespace assets
