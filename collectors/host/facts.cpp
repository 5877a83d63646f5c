#include "collectors/host/facts.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "agent/utf8.h"

namespace assets {
namespace {

using nlohmann::json;

// A schema violation; caught once in parse_host_facts, so each check is one line.
struct SchemaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Keys come from the file: bounded and made valid UTF-8 before they reach a message.
std::string printable_key(std::string_view key) {
  std::string out = valid_utf8(std::string(key.substr(0, 40)));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return "\"" + out + "\"";
}

bool is_jail_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string_view::npos;
}

// One JSON object of the schema: each key is read once, and keys never read are errors.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) throw SchemaError((path_.empty() ? "the facts" : path_) + " must be an object");
  }

  // The dotted name of a key in messages: "ufw.active", or "version" at the top.
  std::string where(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }

  bool has(const std::string& key) const { return object_.contains(key); }
  const json& node(const std::string& key) const { return object_.at(key); }

  const json& get(const std::string& key) {
    const auto found = object_.find(key);
    if (found == object_.end()) throw SchemaError(where(key) + " is required");
    read_.insert(key);
    return *found;
  }

  bool boolean(const std::string& key) {
    const json& value = get(key);
    if (!value.is_boolean()) throw SchemaError(where(key) + " must be true or false");
    return value.get<bool>();
  }

  double seconds(const std::string& key) {
    const json& value = get(key);
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
      throw SchemaError(where(key) + " must be a number of Unix seconds");
    }
    return value.get<double>();
  }

  std::int64_t count(const std::string& key) { return count_value(get(key), where(key)); }

  static std::int64_t count_value(const json& value, const std::string& path) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
      throw SchemaError(path + " must be a whole number, 0 or more");
    }
    return value.get<std::int64_t>();
  }

  template <std::size_t N>
  std::string one_of(const std::string& key, const std::string_view (&values)[N]) {
    const json& value = get(key);
    if (value.is_string() && std::find(std::begin(values), std::end(values), value.get<std::string>()) != std::end(values)) {
      return value.get<std::string>();
    }
    std::string names;
    for (const auto name : values) names += (names.empty() ? "" : ", ") + std::string(name);
    throw SchemaError(where(key) + " must be one of " + names);
  }

  // Reports the first key no read touched.
  void finish() const {
    for (const auto& [key, value] : object_.items()) {
      if (!read_.contains(key)) throw SchemaError("unknown key " + printable_key(key) + (path_.empty() ? "" : " in " + path_));
    }
  }

  // Where a section's facts are present exactly when its tool answered.
  void require_exactly_when(bool answered, std::initializer_list<const char*> keys) const {
    for (const char* key : keys) {
      if (!answered && has(key)) throw SchemaError(where(key) + " must be absent when answered is false");
    }
  }

  const std::string& path() const { return path_; }

 private:
  const json& object_;
  std::string path_;
  std::set<std::string, std::less<>> read_;
};

void read_tool(ObjectReader& section, HostTool& tool, std::initializer_list<const char*> facts) {
  tool.installed = section.boolean("installed");
  tool.answered = section.boolean("answered");
  if (tool.answered && !tool.installed) throw SchemaError(section.path() + ".answered must be false when installed is false");
  section.require_exactly_when(tool.answered, facts);
}

UfwFacts read_ufw(const json& value) {
  ObjectReader section(value, "ufw");
  UfwFacts ufw;
  read_tool(section, ufw, {"active", "default_incoming"});
  if (ufw.answered) {
    ufw.active = section.boolean("active");
    if (ufw.active) {
      ufw.default_incoming = section.one_of("default_incoming", kUfwPolicies);
    } else if (section.has("default_incoming")) {
      throw SchemaError("ufw.default_incoming must be absent while ufw is not active");
    }
  }
  section.finish();
  return ufw;
}

Fail2banFacts read_fail2ban(const json& value) {
  ObjectReader section(value, "fail2ban");
  Fail2banFacts fail2ban;
  read_tool(section, fail2ban, {"running", "jails"});
  if (fail2ban.answered) {
    fail2ban.running = section.boolean("running");
    // A stopped server has no jails to list: "jails" is required only while it runs.
    const bool listed = fail2ban.running || section.has("jails");
    const json& jails = listed ? section.get("jails") : json::object();
    if (!jails.is_object()) throw SchemaError("fail2ban.jails must be an object");
    if (!fail2ban.running && !jails.empty()) throw SchemaError("fail2ban.jails must be empty while fail2ban is not running");
    if (jails.size() > kMaxFail2banJails) {
      throw SchemaError("fail2ban.jails has more than " + std::to_string(kMaxFail2banJails) + " jails");
    }
    for (const auto& [jail, banned] : jails.items()) {
      if (!is_jail_name(jail)) {
        throw SchemaError("fail2ban.jails: " + printable_key(jail) +
                          " is not a jail name (1 to 64 letters, digits, '_', '.' or '-')");
      }
      fail2ban.banned_by_jail[jail] = ObjectReader::count_value(banned, "fail2ban.jails." + jail);
    }
  }
  section.finish();
  return fail2ban;
}

SshdFacts read_sshd(const json& value) {
  ObjectReader section(value, "sshd");
  SshdFacts sshd;
  read_tool(section, sshd, {"password_authentication", "permit_root_login"});
  if (sshd.answered) {
    sshd.password_authentication = section.boolean("password_authentication");
    // sshd -T prints prohibit-password by its old name, without-password (OpenSSH 9.2 in Debian 12 does).
    if (section.has("permit_root_login") && section.node("permit_root_login") == "without-password") {
      section.get("permit_root_login");
      sshd.permit_root_login = "prohibit-password";
    } else {
      sshd.permit_root_login = section.one_of("permit_root_login", kPermitRootLoginModes);
    }
  }
  section.finish();
  return sshd;
}

UnattendedUpgradesFacts read_unattended_upgrades(const json& value) {
  ObjectReader section(value, "unattended_upgrades");
  UnattendedUpgradesFacts unattended;
  read_tool(section, unattended, {"enabled"});
  if (unattended.answered) unattended.enabled = section.boolean("enabled");
  section.finish();
  return unattended;
}

AptFacts read_apt(const json& value, double collected_at) {
  ObjectReader section(value, "apt");
  AptFacts apt;
  read_tool(section, apt, {"security_updates", "security_updates_since"});
  if (apt.answered) {
    apt.security_updates = section.count("security_updates");
    if (apt.security_updates > 0) {
      apt.security_updates_since = section.seconds("security_updates_since");
      if (*apt.security_updates_since > collected_at) {
        throw SchemaError("apt.security_updates_since must not be after collected_at");
      }
    } else if (section.has("security_updates_since")) {
      throw SchemaError("apt.security_updates_since must be absent while no security update is pending");
    }
  }
  section.finish();
  return apt;
}

}  // namespace

std::optional<HostFacts> parse_host_facts(std::string_view text, std::string& error) {
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  try {
    ObjectReader root(document, "");
    const json& version = root.get("version");
    if (!version.is_number_integer() || version.get<std::int64_t>() != 1) {
      throw SchemaError("version must be 1 (this agent reads version 1 of the facts)");
    }
    HostFacts facts;
    facts.collected_at = root.seconds("collected_at");
    facts.ufw = read_ufw(root.get("ufw"));
    facts.fail2ban = read_fail2ban(root.get("fail2ban"));
    facts.sshd = read_sshd(root.get("sshd"));
    facts.unattended_upgrades = read_unattended_upgrades(root.get("unattended_upgrades"));
    facts.apt = read_apt(root.get("apt"), facts.collected_at);
    root.finish();
    return facts;
  } catch (const SchemaError& schema_error) {
    error = schema_error.what();
    return std::nullopt;
  }
}

}  // namespace assets
