// TCP checks against servers on loopback: echo, Redis-like PONG, silent, greet-and-close,
// a closed port, and nginx's TLS listener for the tls option.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/health_servers.h"
#include "tests/support/test_support.h"

namespace assets::testing {
namespace {

std::string tcp_check(const std::string& address, const std::string& extra = "") {
  return "global:\n  interval: 30s\n  timeout: 5s\nhealth:\n  - name: tcp\n    kind: tcp\n    address: " + address +
         "\n" + extra;
}

const TargetStatus& target(const HealthRun& run) {
  const TargetStatus* found = find_target(run.result, "tcp");
  if (found == nullptr) throw std::runtime_error("no target tcp");
  return *found;
}

TEST(HealthTcpTest, EchoAnswersWhatWasSent) {
  LoopbackServer echo(LoopbackServer::Mode::echo);
  const auto run = run_health_once(tcp_check(echo.address(), "    send: \"hello assets\\n\"\n    expect: \"^hello a\"\n"));
  EXPECT_TRUE(target(run).up) << target(run).detail;
  EXPECT_EQ(target(run).kind, "tcp");
  EXPECT_EQ(metric(run.result, "assets_check_up", {{"check", "tcp"}, {"kind", "tcp"}}), 1.0);
  EXPECT_FALSE(metric(run.result, "assets_check_failure", {{"check", "tcp"}}).has_value());
  EXPECT_FALSE(metric(run.result, "assets_http_status_code", {{"check", "tcp"}}).has_value());
}

TEST(HealthTcpTest, RedisLikePingPong) {
  LoopbackServer redis(LoopbackServer::Mode::pong);
  const auto run = run_health_once(tcp_check(redis.address(), "    send: \"PING\\r\\n\"\n    expect: \"^\\\\+PONG\"\n"));
  EXPECT_TRUE(target(run).up) << target(run).detail;
}

TEST(HealthTcpTest, ConnectOnlyNeedsNoAnswer) {
  LoopbackServer silent(LoopbackServer::Mode::silent);
  const auto run = run_health_once(tcp_check(silent.address()));
  EXPECT_TRUE(target(run).up) << target(run).detail;
  EXPECT_LT(run.seconds, 1.0);
}

// Defect 6: the deadline was checked only when a read would wait, and the regex ran over
// the whole buffer after every read, so a peer that kept sending held the check for
// minutes at full CPU.
TEST(HealthTcpTest, PeerThatNeverStopsSendingTimesOutOnTime) {
  LoopbackServer flood(LoopbackServer::Mode::flood);
  const auto run = run_health_once(
      "global:\n  interval: 30s\n  timeout: 5s\nhealth:\n  - name: tcp\n    kind: tcp\n    address: " +
      flood.address() + "\n    timeout: 1s\n    expect: \"never-sent\"\n    max_response_bytes: 64MiB\n");
  EXPECT_FALSE(target(run).up);
  // Loopback may deliver the whole 64 MiB before the timeout: either bound may end it.
  EXPECT_TRUE(target(run).reason == "timeout" || target(run).reason == "protocol") << target(run).detail;
  EXPECT_LT(run.seconds, 3.0) << target(run).detail;  // before the fix: minutes at full CPU
}

TEST(HealthTcpTest, ListenerThatNeverAnswersTimesOut) {
  LoopbackServer silent(LoopbackServer::Mode::silent);
  const auto run = run_health_once(
      tcp_check(silent.address(), "    timeout: 1s\n    send: \"PING\\r\\n\"\n    expect: \"^\\\\+PONG\"\n"));
  EXPECT_FALSE(target(run).up);
  EXPECT_EQ(target(run).reason, "timeout") << target(run).detail;
  EXPECT_EQ(metric(run.result, "assets_check_failure", {{"check", "tcp"}, {"reason", "timeout"}}), 1.0);
  EXPECT_GE(target(run).duration_seconds, 0.95);
  EXPECT_LE(target(run).duration_seconds, 1.1);
}

TEST(HealthTcpTest, WrongAnswerThenCloseIsProtocol) {
  LoopbackServer greeting(LoopbackServer::Mode::greeting);
  const auto run = run_health_once(tcp_check(greeting.address(), "    expect: \"^\\\\+PONG\"\n"));
  EXPECT_FALSE(target(run).up);
  EXPECT_EQ(target(run).reason, "protocol") << target(run).detail;
}

TEST(HealthTcpTest, AnswerLongerThanMaxResponseBytesIsProtocol) {
  LoopbackServer echo(LoopbackServer::Mode::echo);
  const auto run = run_health_once(tcp_check(
      echo.address(), "    send: \"0123456789abcdef\"\n    expect: \"f\"\n    max_response_bytes: 8\n"));
  EXPECT_FALSE(target(run).up);
  EXPECT_EQ(target(run).reason, "protocol") << target(run).detail;
}

TEST(HealthTcpTest, ClosedPortIsRefused) {
  const auto run = run_health_once(tcp_check("127.0.0.1:" + std::to_string(free_tcp_port())));
  EXPECT_FALSE(target(run).up);
  EXPECT_EQ(target(run).reason, "refused") << target(run).detail;
  EXPECT_NE(target(run).detail.find("refused"), std::string::npos) << target(run).detail;
}

TEST(HealthTcpTest, NameThatDoesNotResolveIsDns) {
  // A label longer than DNS allows (63 bytes): the resolver fails it without sending a query.
  const auto run = run_health_once(tcp_check(std::string(70, 'n') + ".invalid:6379"));
  EXPECT_FALSE(target(run).up);
  EXPECT_EQ(target(run).reason, "dns") << target(run).detail;
}

TEST(HealthTcpTest, TlsHandshakeAgainstNginx) {
  ASSETS_REQUIRE_COMPONENT(Nginx::available(), "nginx (Debian package nginx)");
  TempDir dir;
  TestPki pki(dir / "pki");
  pki.issue("server", {.common_name = "localhost", .dns_names = {"localhost"}, .ip_addresses = {"127.0.0.1"}});
  const int port = free_tcp_port();
  Nginx nginx(dir.path() / "nginx",
              "server {\n listen 127.0.0.1:" + std::to_string(port) + " ssl;\n ssl_certificate " +
                  pki.cert("server").string() + ";\n ssl_certificate_key " + pki.key("server").string() +
                  ";\n location / { return 200 \"tls ok\\n\"; }\n}\n",
              {port});
  ASSERT_TRUE(nginx.started()) << nginx.log();
  const std::string address = "127.0.0.1:" + std::to_string(port);

  const auto trusted = run_health_once(tcp_check(
      address, "    tls:\n      ca_file: " + pki.ca_file().string() +
                   "\n    send: \"GET / HTTP/1.0\\r\\n\\r\\n\"\n    expect: \"tls ok\"\n"));
  EXPECT_TRUE(target(trusted).up) << target(trusted).detail;

  const auto by_name = run_health_once(
      tcp_check("localhost:" + std::to_string(port), "    tls:\n      ca_file: " + pki.ca_file().string() + "\n"));
  EXPECT_TRUE(target(by_name).up) << target(by_name).detail;

  const auto untrusted = run_health_once(tcp_check(address, "    tls: {}\n"));
  EXPECT_FALSE(target(untrusted).up);
  EXPECT_EQ(target(untrusted).reason, "tls") << target(untrusted).detail;

  const auto wrong_name = run_health_once(tcp_check(
      address, "    tls:\n      ca_file: " + pki.ca_file().string() + "\n      server_name: other.test\n"));
  EXPECT_EQ(target(wrong_name).reason, "tls") << target(wrong_name).detail;

  LoopbackServer plain(LoopbackServer::Mode::silent);
  const auto not_tls = run_health_once(tcp_check(plain.address(), "    timeout: 1s\n    tls:\n      insecure_skip_verify: true\n"));
  EXPECT_FALSE(target(not_tls).up);
  EXPECT_EQ(target(not_tls).reason, "timeout") << target(not_tls).detail;
}

TEST(HealthTcpTest, EachCheckRunsOnItsOwnInterval) {
  LoopbackServer fast(LoopbackServer::Mode::silent);
  LoopbackServer slow(LoopbackServer::Mode::silent);
  Duration timeout{};
  auto collector = make_health("global:\n  interval: 1s\n  timeout: 500ms\nhealth:\n"
                               "  - {name: fast, kind: tcp, address: \"" + fast.address() + "\"}\n"
                               "  - {name: slow, kind: tcp, address: \"" + slow.address() + "\", interval: 1h}\n",
                               &timeout);
  const auto first = run_health(*collector, timeout);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto second = run_health(*collector, timeout);
  // The slow check is not due again but keeps reporting its last result.
  ASSERT_NE(find_target(second.result, "slow"), nullptr);
  EXPECT_TRUE(find_target(second.result, "slow")->up);
  EXPECT_TRUE(find_target(second.result, "fast")->up);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (fast.connections() < 2 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(fast.connections(), 2);
  EXPECT_EQ(slow.connections(), 1);
}

}  // namespace
}  // namespace assets::testing
