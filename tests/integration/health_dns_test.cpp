// dns checks against a real resolver on loopback: dnsmasq serving a test zone (the seed's
// case: assets.test resolves to the VPS address and its CAA record names Let's Encrypt),
// a UDP socket that never answers, and a closed TCP port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/health_servers.h"
#include "tests/support/test_support.h"

namespace assets::testing {
namespace {

using namespace std::chrono_literals;

// dnsmasq on 127.0.0.1:PORT (UDP and TCP) answering for assets.test only.
class Dnsmasq {
 public:
  explicit Dnsmasq(const TempDir& dir) {
    const std::string dnsmasq = find_program("dnsmasq");
    if (dnsmasq.empty()) return;
    for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
      port_ = free_tcp_port();
      process_ = Process({dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null", "--port=" + std::to_string(port_),
                          "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                          "--user=root", "--pid-file", "--log-facility=-",
                          // Names under assets.test that are not here are NXDOMAIN, never forwarded.
                          "--local=/assets.test/", "--host-record=assets.test,203.0.113.10,2001:db8::10",
                          "--cname=www.assets.test,assets.test", "--mx-host=assets.test,mail.assets.test,10",
                          "--host-record=mail.assets.test,203.0.113.25",
                          "--txt-record=assets.test,v=spf1 mx -all",
                          // CAA 0 issue "letsencrypt.org" (type 257: flags, tag length, tag, value).
                          "--dns-rr=assets.test,257,000569737375656c657473656e63727970742e6f7267"},
                         (dir / "dnsmasq.log").string());
      ready_ = wait_for_tcp(port_, 5s) && process_.running();
    }
  }
  bool ready() const { return ready_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  Process process_;
  int port_ = 0;
  bool ready_ = false;
};

std::string dns_check(const std::string& name, const std::string& keys) {
  return "  - name: " + name + "\n    kind: dns\n    timeout: 2s\n" + keys;
}

std::string config(const std::string& checks) { return "global:\n  interval: 30s\n  timeout: 5s\nhealth:\n" + checks; }

class HealthDnsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSETS_REQUIRE_COMPONENT(dnsmasq_.ready(), "dnsmasq (Debian package dnsmasq-base)"); }
  std::string server_keys(const std::string& name, const std::string& type) const {
    return "    server: \"" + dnsmasq_.server() + "\"\n    query_name: " + name + "\n    query_type: " + type + "\n";
  }
  TempDir dir_;
  Dnsmasq dnsmasq_{dir_};
};

TEST_F(HealthDnsTest, EachRecordTypeOfTheZoneWithItsRules) {
  const auto run = run_health_once(config(
      dns_check("a", server_keys("assets.test", "A") +
                         "    validate_answer_rrs:\n      fail_if_not_matches_regexp: ['^assets\\.test\\. \\d+ IN A 203\\.0\\.113\\.10$']\n") +
      dns_check("aaaa", server_keys("assets.test", "AAAA") +
                            "    validate_answer_rrs:\n      fail_if_none_matches_regexp: ['IN AAAA 2001:db8::10$']\n") +
      dns_check("cname", server_keys("www.assets.test", "CNAME") +
                             "    validate_answer_rrs:\n      fail_if_none_matches_regexp: ['IN CNAME assets\\.test\\.$']\n") +
      dns_check("mx", server_keys("assets.test", "MX") +
                          "    validate_answer_rrs:\n      fail_if_none_matches_regexp: ['IN MX 10 mail\\.assets\\.test\\.$']\n") +
      dns_check("txt", server_keys("assets.test", "TXT") +
                           "    validate_answer_rrs:\n      fail_if_none_matches_regexp: ['v=spf1 mx -all']\n") +
      dns_check("caa", server_keys("assets.test", "CAA") +
                           "    validate_answer_rrs:\n      fail_if_none_matches_regexp: ['letsencrypt\\.org']\n") +
      dns_check("tcp", server_keys("assets.test", "A") + "    transport: tcp\n")));
  for (const char* name : {"a", "aaaa", "cname", "mx", "txt", "caa", "tcp"}) {
    SCOPED_TRACE(name);
    const TargetStatus* status = find_target(run.result, name);
    ASSERT_NE(status, nullptr);
    EXPECT_TRUE(status->up) << status->reason << ": " << status->detail << "\n" << exposition(run.result);
    EXPECT_EQ(status->kind, "dns");
    EXPECT_EQ(metric(run.result, "assets_check_up", {{"check", name}, {"kind", "dns"}}), 1.0);
    EXPECT_EQ(metric(run.result, "assets_dns_rcode", {{"check", name}}), 0.0);
    EXPECT_GE(*metric(run.result, "assets_dns_answer_rrs", {{"check", name}}), 1.0);
  }
}

TEST_F(HealthDnsTest, RcodesAndBrokenRulesFailWithTheirReasons) {
  const auto run = run_health_once(config(
      dns_check("nxdomain", server_keys("nothing.assets.test", "A")) +
      dns_check("nxdomain-expected", server_keys("nothing.assets.test", "A") + "    valid_rcodes: [NXDOMAIN]\n") +
      dns_check("wrong-address", server_keys("assets.test", "A") +
                                     "    validate_answer_rrs:\n      fail_if_matches_regexp: ['203\\.0\\.113\\.10']\n") +
      dns_check("all-match", server_keys("assets.test", "A") +
                                 "    validate_answer_rrs:\n      fail_if_all_match_regexp: ['IN A ']\n") +
      dns_check("no-caa-for-other-ca", server_keys("assets.test", "CAA") +
                                           "    validate_answer_rrs:\n      fail_if_none_matches_regexp: ['sectigo']\n")));
  const auto expect_failure = [&](const std::string& name, const std::string& reason, const std::string& detail) {
    SCOPED_TRACE(name);
    const TargetStatus* status = find_target(run.result, name);
    ASSERT_NE(status, nullptr);
    EXPECT_FALSE(status->up);
    EXPECT_EQ(status->reason, reason) << status->detail;
    EXPECT_NE(status->detail.find(detail), std::string::npos) << status->detail;
    EXPECT_EQ(metric(run.result, "assets_check_failure", {{"check", name}, {"reason", reason}}), 1.0);
  };
  expect_failure("nxdomain", "status", "rcode NXDOMAIN is not one of valid_rcodes");
  expect_failure("wrong-address", "body", "answer records match fail_if_matches_regexp");
  expect_failure("all-match", "body", "all match fail_if_all_match_regexp");
  expect_failure("no-caa-for-other-ca", "body", "match no fail_if_none_matches_regexp sectigo");
  EXPECT_EQ(metric(run.result, "assets_dns_rcode", {{"check", "nxdomain"}}), 3.0);
  EXPECT_TRUE(find_target(run.result, "nxdomain-expected")->up) << find_target(run.result, "nxdomain-expected")->detail;
  EXPECT_EQ(metric(run.result, "assets_dns_answer_rrs", {{"check", "nxdomain-expected"}}), 0.0);
}

// A UDP socket that takes queries and never answers, as a resolver behind a dead link.
class SilentUdpServer {
 public:
  SilentUdpServer() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) throw std::runtime_error("bind");
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentUdpServer() { close(fd_); }
  SilentUdpServer(const SilentUdpServer&) = delete;
  SilentUdpServer& operator=(const SilentUdpServer&) = delete;
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  int port_ = 0;
};

TEST(HealthDns, ASilentServerTimesOutOnTimeAndAClosedTcpPortIsRefused) {
  SilentUdpServer silent;
  const std::string closed = "127.0.0.1:" + std::to_string(free_tcp_port());
  const auto started = std::chrono::steady_clock::now();
  const auto run = run_health_once(config(
      dns_check("silent", "    server: \"" + silent.server() + "\"\n    query_name: assets.test\n") +
      dns_check("closed", "    server: \"" + closed + "\"\n    query_name: assets.test\n    transport: tcp\n")));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const TargetStatus* silent_status = find_target(run.result, "silent");
  ASSERT_NE(silent_status, nullptr);
  EXPECT_EQ(silent_status->reason, "timeout") << silent_status->detail;
  EXPECT_GE(silent_status->duration_seconds, 1.9);
  EXPECT_LT(silent_status->duration_seconds, 3.0);
  EXPECT_LT(took, 4.0);
  const TargetStatus* closed_status = find_target(run.result, "closed");
  ASSERT_NE(closed_status, nullptr);
  EXPECT_FALSE(closed_status->up);
  EXPECT_EQ(closed_status->reason, "refused") << closed_status->detail;
}

}  // namespace
}  // namespace assets::testing
