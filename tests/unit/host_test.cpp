// Host protections: the facts file's schema (tests/testdata/host/facts/, written by
// deploy/host-facts/host-facts.sh from the real tools' output), and the collector reading it.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "collectors/host/facts.h"
#include "tests/support/cert_factory.h"
#include "tests/support/configured_collector.h"
#include "tests/support/golden.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using testing::TempDir;
using testing::write_file;

// A host as the operations guide wants it, except for one pending security update.
constexpr const char* kHardened = R"({"version": 1, "collected_at": 1793491200,
  "ufw": {"installed": true, "answered": true, "active": true, "default_incoming": "deny"},
  "fail2ban": {"installed": true, "answered": true, "running": true, "jails": {"sshd": 2, "recidive": 0}},
  "sshd": {"installed": true, "answered": true, "password_authentication": false, "permit_root_login": "prohibit-password"},
  "unattended_upgrades": {"installed": true, "answered": true, "enabled": true},
  "apt": {"installed": true, "answered": true, "security_updates": 1, "security_updates_since": 1793404800}})";

// Each section replaced in kHardened by `section`.
std::string with_section(const std::string& name, const std::string& section) {
  nlohmann::json document = nlohmann::json::parse(kHardened);
  document[name] = nlohmann::json::parse(section);
  return document.dump();
}

TEST(HostFacts, ReadsEveryFactOfTheSchema) {
  std::string error;
  const auto facts = parse_host_facts(kHardened, error);
  ASSERT_TRUE(facts) << error;
  EXPECT_EQ(facts->collected_at, 1793491200);
  EXPECT_TRUE(facts->ufw.active);
  EXPECT_EQ(facts->ufw.default_incoming, "deny");
  EXPECT_TRUE(facts->fail2ban.running);
  EXPECT_EQ(facts->fail2ban.banned_by_jail.at("sshd"), 2);
  EXPECT_EQ(facts->fail2ban.banned_by_jail.at("recidive"), 0);
  EXPECT_FALSE(facts->sshd.password_authentication);
  EXPECT_EQ(facts->sshd.permit_root_login, "prohibit-password");
  EXPECT_TRUE(facts->unattended_upgrades.enabled);
  EXPECT_EQ(facts->apt.security_updates, 1);
  EXPECT_EQ(facts->apt.security_updates_since, 1793404800);
}

TEST(HostFacts, ToolsNotInstalledOrSilentCarryNoFacts) {
  std::string error;
  const std::string absent = R"({"installed": false, "answered": false})";
  auto text = with_section("ufw", absent);
  for (const char* name : {"fail2ban", "sshd", "unattended_upgrades", "apt"}) {
    nlohmann::json document = nlohmann::json::parse(text);
    document[name] = nlohmann::json::parse(absent);
    text = document.dump();
  }
  const auto facts = parse_host_facts(text, error);
  ASSERT_TRUE(facts) << error;
  EXPECT_FALSE(facts->ufw.installed);
  EXPECT_FALSE(facts->ufw.default_incoming);
  EXPECT_TRUE(facts->fail2ban.banned_by_jail.empty());
  EXPECT_FALSE(facts->apt.security_updates_since);

  // sshd -T prints prohibit-password by its old name (OpenSSH 9.2 in Debian 12 does).
  const auto old_name = parse_host_facts(with_section("sshd", R"({"installed": true, "answered": true,
      "password_authentication": false, "permit_root_login": "without-password"})"), error);
  ASSERT_TRUE(old_name) << error;
  EXPECT_EQ(old_name->sshd.permit_root_login, "prohibit-password");
  // A stopped fail2ban has no jails to list.
  for (const char* stopped : {R"({"installed": true, "answered": true, "running": false})",
                              R"({"installed": true, "answered": true, "running": false, "jails": {}})"}) {
    const auto facts_stopped = parse_host_facts(with_section("fail2ban", stopped), error);
    ASSERT_TRUE(facts_stopped) << error;
    EXPECT_FALSE(facts_stopped->fail2ban.running);
  }

  const auto silent = parse_host_facts(with_section("sshd", R"({"installed": true, "answered": false})"), error);
  ASSERT_TRUE(silent) << error;
  EXPECT_TRUE(silent->sshd.installed);
  EXPECT_FALSE(silent->sshd.answered);
}

TEST(HostFacts, RejectsAnythingElseNamingTheKey) {
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"", "not a JSON object"},
           {"[]", "not a JSON object"},
           {R"({"version": 2})", "version must be 1 (this agent reads version 1 of the facts)"},
           {R"({"collected_at": 5})", "version is required"},
           {R"({"version": 1, "collected_at": "now"})", "collected_at must be a number of Unix seconds"},
           {R"({"version": 1, "collected_at": 5})", "ufw is required"},
           {with_section("ufw", "[]"), "ufw must be an object"},
           {with_section("ufw", R"({"installed": "yes", "answered": true})"), "ufw.installed must be true or false"},
           {with_section("ufw", R"({"installed": false, "answered": true})"),
            "ufw.answered must be false when installed is false"},
           {with_section("ufw", R"({"installed": true, "answered": false, "active": true})"),
            "ufw.active must be absent when answered is false"},
           {with_section("ufw", R"({"installed": true, "answered": true, "active": true})"),
            "ufw.default_incoming is required"},
           {with_section("ufw", R"({"installed": true, "answered": true, "active": true, "default_incoming": "drop"})"),
            "ufw.default_incoming must be one of allow, deny, reject"},
           {with_section("ufw", R"({"installed": true, "answered": true, "active": false, "default_incoming": "deny"})"),
            "ufw.default_incoming must be absent while ufw is not active"},
           {with_section("ufw", R"({"installed": true, "answered": true, "active": false, "routed": "deny"})"),
            R"(unknown key "routed" in ufw)"},
           {with_section("fail2ban", R"({"installed": true, "answered": true, "running": true, "jails": []})"),
            "fail2ban.jails must be an object"},
           {with_section("fail2ban", R"({"installed": true, "answered": true, "running": true, "jails": {"ssh d": 1}})"),
            R"(fail2ban.jails: "ssh d" is not a jail name (1 to 64 letters, digits, '_', '.' or '-'))"},
           {with_section("fail2ban", R"({"installed": true, "answered": true, "running": true, "jails": {"sshd": -1}})"),
            "fail2ban.jails.sshd must be a whole number, 0 or more"},
           {with_section("sshd", R"({"installed": true, "answered": true, "password_authentication": false,
                                    "permit_root_login": "without"})"),
            "sshd.permit_root_login must be one of yes, no, prohibit-password, forced-commands-only"},
           {with_section("fail2ban", R"({"installed": true, "answered": true, "running": true})"),
            "fail2ban.jails is required"},
           {with_section("fail2ban", R"({"installed": true, "answered": true, "running": false, "jails": {"sshd": 0}})"),
            "fail2ban.jails must be empty while fail2ban is not running"},
           {with_section("apt", R"({"installed": true, "answered": true, "security_updates": 2, "security_updates_since": 1793491201})"),
            "apt.security_updates_since must not be after collected_at"},
           {with_section("apt", R"({"installed": true, "answered": true, "security_updates": 2})"),
            "apt.security_updates_since is required"},
           {with_section("apt", R"({"installed": true, "answered": true, "security_updates": 0, "security_updates_since": 5})"),
            "apt.security_updates_since must be absent while no security update is pending"},
           {with_section("apt", R"({"installed": true, "answered": true, "security_updates": 1.5})"),
            "apt.security_updates must be a whole number, 0 or more"},
           {std::string(kHardened).insert(1, "\"extra\": 1, "), R"(unknown key "extra")"},
       }) {
    SCOPED_TRACE(text);
    std::string error;
    EXPECT_FALSE(parse_host_facts(text, error));
    EXPECT_EQ(error, message);
  }
}

// What deploy/host-facts/host-facts.sh wrote from the real tools' answers
// (tests/unit/host_facts_script_test.py checks it writes exactly these).
TEST(HostFacts, ReadsWhatTheHelperWritesForEachRecordedHost) {
  const auto folder = testing::source_dir() / "tests/testdata/host/facts";
  std::map<std::string, HostFacts> by_case;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string error;
    const auto facts = parse_host_facts(text, error);
    ASSERT_TRUE(facts) << entry.path() << ": " << error;
    by_case[entry.path().stem().string()] = *facts;
  }
  ASSERT_EQ(by_case.size(), 4u);
  const HostFacts& exposed = by_case.at("exposed");
  EXPECT_FALSE(exposed.ufw.active);
  EXPECT_TRUE(exposed.fail2ban.answered);
  EXPECT_FALSE(exposed.fail2ban.running) << "Debian 12's default sshd jail stops fail2ban (no auth.log)";
  EXPECT_TRUE(exposed.sshd.password_authentication);
  EXPECT_EQ(exposed.sshd.permit_root_login, "yes");
  EXPECT_FALSE(exposed.unattended_upgrades.enabled);
  EXPECT_GT(exposed.apt.security_updates, 0);
  const HostFacts& hardened = by_case.at("hardened");
  EXPECT_EQ(hardened.ufw.default_incoming, "deny");
  EXPECT_EQ(hardened.fail2ban.banned_by_jail.at("sshd"), 1);
  EXPECT_EQ(hardened.sshd.permit_root_login, "prohibit-password") << "OpenSSH 9.2 prints without-password";
  EXPECT_EQ(by_case.at("patched").apt.security_updates, 0);
  EXPECT_FALSE(by_case.at("bare").ufw.installed);
}

TEST(HostFacts, BoundsTheJails) {
  nlohmann::json document = nlohmann::json::parse(kHardened);
  for (std::size_t i = 0; i <= kMaxFail2banJails; ++i) document["fail2ban"]["jails"]["jail" + std::to_string(i)] = 0;
  std::string error;
  EXPECT_FALSE(parse_host_facts(document.dump(), error));
  EXPECT_EQ(error, "fail2ban.jails has more than 32 jails");
}

struct HostRun {
  explicit HostRun(const std::string& facts_file, const std::string& more = "") {
    auto collector = testing::configured_collector("host", "host:\n  facts_file: " + facts_file + "\n" + more);
    if (!collector) throw std::runtime_error("host not enabled");
    CollectContext context;
    context.deadline = std::chrono::steady_clock::now() + collector->timeout;
    result = collector->collector->run(context);
  }
  std::optional<double> value(const std::string& name, const std::string& label_value = "") const {
    for (const auto& family : result.families) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        if (label_value.empty() || (!metric.label.empty() && metric.label.front().value == label_value)) {
          return metric.gauge.value;
        }
      }
    }
    return std::nullopt;
  }
  const TargetStatus& status() const { return result.targets.at(0); }
  CollectResult result;
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(HostCollector, AMissingBrokenOrSpecialFileIsAFailureNotAnError) {
  TempDir dir;
  const std::string path = (dir / "facts.json").string();
  {
    HostRun run(path);
    EXPECT_EQ(run.value("assets_host_facts_up"), 0);
    EXPECT_EQ(run.value("assets_host_facts_failure", "not_found"), 1);
    EXPECT_EQ(run.value("assets_host_facts_stale_after_seconds"), 3600);
    EXPECT_EQ(run.value("assets_host_security_updates_max_pending_seconds"), 7 * 86400);
    EXPECT_FALSE(run.value("assets_host_firewall_active"));
    EXPECT_FALSE(run.status().up);
  }
  write_file(path, R"({"version": 1, "collected_at": 1, "ufw": 7})");
  {
    HostRun run(path);
    EXPECT_EQ(run.value("assets_host_facts_failure", "invalid"), 1);
    EXPECT_EQ(run.status().detail, path + ": ufw must be an object");
  }
  write_file(path, std::string(kMaxHostFactsFileBytes + 1, ' '));
  EXPECT_EQ(HostRun(path).value("assets_host_facts_failure", "invalid"), 1) << "larger than the limit";
  // A FIFO at the path is refused at once: open() with O_NONBLOCK does not wait for a writer.
  const std::string fifo = (dir / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(HostRun(fifo).value("assets_host_facts_failure", "invalid"), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST(HostCollector, FactsFromTheFutureAreUnusable) {
  TempDir dir;
  const std::string path = (dir / "facts.json").string();
  nlohmann::json document = nlohmann::json::parse(kHardened);
  document["collected_at"] = now_seconds() + 3600;
  document["apt"]["security_updates_since"] = now_seconds();
  write_file(path, document.dump());
  HostRun run(path);
  EXPECT_EQ(run.value("assets_host_facts_up"), 0);
  EXPECT_EQ(run.value("assets_host_facts_failure", "future"), 1);
  EXPECT_FALSE(run.value("assets_host_firewall_active"));
  EXPECT_NE(run.status().detail.find("in the future (check the clock)"), std::string::npos) << run.status().detail;
}

TEST(HostCollector, FreshFactsAreUpAndOldOnesStale) {
  TempDir dir;
  const std::string path = (dir / "facts.json").string();
  nlohmann::json document = nlohmann::json::parse(kHardened);
  document["collected_at"] = now_seconds() - 60;
  write_file(path, document.dump());
  {
    HostRun run(path, "  stale_after: 30m\n  security_updates_max_pending: 3d\n");
    EXPECT_TRUE(run.status().up) << run.status().detail;
    EXPECT_EQ(run.status().detail,
              "ufw active (deny incoming), fail2ban running (recidive 0 banned, sshd 2 banned), sshd password "
              "login off, root login prohibit-password, unattended-upgrades on, apt 1 security updates pending");
    EXPECT_EQ(run.value("assets_host_facts_stale_after_seconds"), 1800);
    EXPECT_EQ(run.value("assets_host_security_updates_max_pending_seconds"), 3 * 86400);
  }
  document["collected_at"] = now_seconds() - 7200;
  write_file(path, document.dump());
  {
    HostRun run(path);
    EXPECT_FALSE(run.status().up);
    EXPECT_EQ(run.status().reason, "stale");
    EXPECT_EQ(run.value("assets_host_facts_up"), 1) << "stale is for the alert to judge; the file is fine";
    EXPECT_EQ(run.value("assets_host_firewall_active"), 1);
  }
}

// Without ufw there is no firewall: 0. Without fail2ban, no series (UFW may protect SSH).
TEST(HostCollector, MissingToolsAndToolsThatDidNotAnswer) {
  TempDir dir;
  const std::string path = (dir / "facts.json").string();
  nlohmann::json document = nlohmann::json::parse(kHardened);
  for (const char* name : {"ufw", "fail2ban", "unattended_upgrades"}) {
    document[name] = nlohmann::json::parse(R"({"installed": false, "answered": false})");
  }
  document["sshd"] = nlohmann::json::parse(R"({"installed": true, "answered": false})");
  write_file(path, document.dump());
  HostRun run(path);
  EXPECT_EQ(run.value("assets_host_firewall_active"), 0);
  EXPECT_FALSE(run.value("assets_host_firewall_default_incoming_policy"));
  EXPECT_FALSE(run.value("assets_host_fail2ban_running"));
  EXPECT_EQ(run.value("assets_host_unattended_upgrades_enabled"), 0);
  EXPECT_EQ(run.value("assets_host_tool_installed", "sshd"), 1);
  EXPECT_EQ(run.value("assets_host_tool_up", "sshd"), 0);
  EXPECT_FALSE(run.value("assets_host_ssh_password_authentication"));
  EXPECT_EQ(run.value("assets_host_tool_up", "apt"), 1);
}

TEST(HostCollectorGolden, GoldenExposition) {
  TempDir dir;
  write_file(dir / "facts.json", kHardened);
  HostRun run((dir / "facts.json").string());
  testing::expect_golden_exposition(run.result, "host", {.timing_families = {}, .replacements = {}});
}

}  // namespace
}  // namespace assets
