// The certificates collector against real TLS servers on loopback: `openssl s_server`,
// nginx (several names on one port, for SNI), a listener that never speaks, a closed port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "tests/support/cert_factory.h"
#include "tests/support/test_support.h"
#include "tests/unit/certificates_test_util.h"

namespace assets {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::Certificate;
using testing::CertificatesRun;
using testing::CertificateSpec;
using testing::KeyAlgorithm;
using testing::PrivateKey;
using testing::Process;
using testing::TempDir;
using testing::from_now;
using testing::to_unix_seconds;
using testing::write_file;

constexpr std::chrono::seconds kDay = 24h;

CertificateSpec leaf_spec(const std::string& name, std::chrono::seconds from = -kDay,
                          std::chrono::seconds to = 60 * kDay) {
  CertificateSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  spec.ip_addresses = {"127.0.0.1"};
  spec.not_before = from_now(from);
  spec.not_after = from_now(to);
  spec.key = PrivateKey::shared(KeyAlgorithm::ecdsa_p256);
  return spec;
}

Labels endpoint(const std::string& address) { return {{"target", address}, {"source", "endpoint"}}; }

Labels with(Labels labels, const Labels& more) {
  labels.insert(labels.end(), more.begin(), more.end());
  return labels;
}

std::string address_of(int port) { return "127.0.0.1:" + std::to_string(port); }

// `openssl s_server` serving one certificate (and optionally its chain) on a free port.
class OpenSslServer {
 public:
  OpenSslServer(const TempDir& dir, const std::string& name, const Certificate& certificate,
                const std::string& chain_pem = "") {
    const fs::path cert_file = dir / (name + ".crt");
    const fs::path key_file = dir / (name + ".key");
    write_file(cert_file, certificate.pem());
    write_file(key_file, certificate.key().pem());
    if (!chain_pem.empty()) write_file(dir / (name + "-chain.pem"), chain_pem);
    const std::string openssl = testing::find_program("openssl");
    if (openssl.empty()) return;
    // A port taken between choosing and binding is retried with another.
    for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
      port_ = testing::free_tcp_port();
      std::vector<std::string> argv{openssl, "s_server", "-accept", address_of(port_), "-cert", cert_file.string(),
                                    "-key", key_file.string(), "-www", "-quiet"};
      if (!chain_pem.empty()) {
        argv.push_back("-cert_chain");
        argv.push_back((dir / (name + "-chain.pem")).string());
      }
      process_ = Process(argv, (dir / (name + ".log")).string());
      ready_ = testing::wait_for_tcp(port_, 10s) && process_.running();
    }
  }
  bool ready() const { return ready_; }
  std::string address() const { return address_of(port_); }

 private:
  Process process_;
  int port_ = 0;
  bool ready_ = false;
};

struct NginxSite {
  std::string server_name;
  Certificate certificate;
  std::string chain_pem = {};  // sent after the certificate; empty: the leaf alone
};

// nginx with one server block per site, every site on every port: SNI picks the certificate.
class NginxServer {
 public:
  NginxServer(const TempDir& dir, const std::vector<NginxSite>& sites, int port_count = 1) {
    const std::string nginx = testing::find_program("nginx");
    if (nginx.empty()) return;
    const fs::path root = dir / "nginx";
    fs::create_directories(root / "tmp");
    for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
      ports_.clear();
      while (ports_.size() < static_cast<std::size_t>(port_count)) {
        const int port = testing::free_tcp_port();
        if (std::find(ports_.begin(), ports_.end(), port) == ports_.end()) ports_.push_back(port);
      }
      std::string servers;
      for (std::size_t s = 0; s < sites.size(); ++s) {
        const auto& site = sites[s];
        write_file(root / (site.server_name + ".crt"), site.certificate.pem() + site.chain_pem);
        write_file(root / (site.server_name + ".key"), site.certificate.key().pem());
        servers += "  server {\n";
        for (const int port : ports_) {
          servers += "    listen 127.0.0.1:" + std::to_string(port) + " ssl" + (s == 0 ? " default_server" : "") + ";\n";
        }
        servers += "    server_name " + site.server_name + ";\n"
                   "    ssl_certificate " + (root / (site.server_name + ".crt")).string() + ";\n"
                   "    ssl_certificate_key " + (root / (site.server_name + ".key")).string() + ";\n"
                   "    return 200 \"ok\\n\";\n  }\n";
      }
      const std::string tmp = (root / "tmp").string();
      write_file(root / "nginx.conf",
                 "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + (root / "nginx.pid").string() + ";\n" +
                     "error_log " + (root / "error.log").string() + " warn;\n"
                     "events { worker_connections 1024; }\n"
                     "http {\n  access_log off;\n"
                     "  client_body_temp_path " + tmp + "/body;\n  proxy_temp_path " + tmp + "/proxy;\n"
                     "  fastcgi_temp_path " + tmp + "/fastcgi;\n  uwsgi_temp_path " + tmp + "/uwsgi;\n"
                     "  scgi_temp_path " + tmp + "/scgi;\n" + servers + "}\n");
      process_ = Process({nginx, "-e", (root / "error.log").string(), "-p", root.string(), "-c",
                          (root / "nginx.conf").string()},
                         (root / "stdout.log").string());
      ready_ = true;
      for (const int port : ports_) ready_ = ready_ && testing::wait_for_tcp(port, 10s);
      ready_ = ready_ && process_.running();
    }
  }
  bool ready() const { return ready_; }
  const std::vector<int>& ports() const { return ports_; }

 private:
  Process process_;
  std::vector<int> ports_;
  bool ready_ = false;
};

// Accepts connections and never says a word, as a hung TLS server would; or, with a
// greeting, says it and closes, as a plain-text service on a TLS port would.
class SilentListener {
 public:
  explicit SilentListener(std::string greeting = "")
      : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), greeting_(std::move(greeting)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(fd_, 128) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        const int client = accept(fd_, nullptr, nullptr);
        if (client < 0) return;  // shutdown() below wakes accept
        if (!greeting_.empty()) {
          send(client, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
          close(client);
          continue;
        }
        accepted_.push_back(client);
      }
    });
  }
  ~SilentListener() {
    shutdown(fd_, SHUT_RDWR);
    acceptor_.join();
    for (const int client : accepted_) close(client);
    close(fd_);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::string address() const { return address_of(port_); }

 private:
  int fd_;
  std::string greeting_;
  int port_ = 0;
  std::vector<int> accepted_;
  std::thread acceptor_;
};

std::string endpoint_yaml(const std::string& address, const std::string& extra = "") {
  return "    - address: \"" + address + "\"\n" + extra;
}

std::string config(const std::string& endpoints, const std::string& section_extra = "") {
  return "global:\n  interval: 60s\n  timeout: 20s\n"
         "certificates:\n  timeout: 15s\n" + section_extra + "  endpoints:\n" + endpoints;
}

std::string port_of(const std::string& address) { return address.substr(address.rfind(':') + 1); }

class CertificatesEndpoints : public ::testing::Test {
 protected:
  TempDir dir;
  CertificateSpec leaf = leaf_spec("localhost");
  testing::CertificateChain chain = testing::make_chain(leaf);
  std::string ca_file() {
    write_file(dir / "ca.pem", chain.root.pem());
    return (dir / "ca.pem").string();
  }
};

TEST_F(CertificatesEndpoints, ValidChainWithTheTestCaIsVerified) {
  OpenSslServer server(dir, "valid", chain.leaf, chain.intermediate.pem());
  ASSETS_REQUIRE_COMPONENT(server.ready(), "openssl s_server");
  // By IP (checked against the IP SAN, no SNI) and by name (SNI and DNS SAN).
  const std::string by_name = "localhost:" + port_of(server.address());
  CertificatesRun run(config(endpoint_yaml(server.address(), "      ca_file: " + ca_file() + "\n") +
                             endpoint_yaml(by_name, "      ca_file: " + ca_file() + "\n      expiry_warning: 40d\n")));
  run.run();
  for (const std::string& address : {server.address(), by_name}) {
    SCOPED_TRACE(address);
    const auto* status = run.target(address);
    ASSERT_NE(status, nullptr);
    EXPECT_TRUE(status->up) << status->detail;
    EXPECT_EQ(status->kind, "endpoint");
    EXPECT_EQ(run.value("assets_cert_target_up", endpoint(address)), 1);
    EXPECT_EQ(run.value("assets_cert_verified", endpoint(address)), 1) << status->detail;
    EXPECT_TRUE(run.samples("assets_cert_target_failure", endpoint(address)).empty());
    EXPECT_EQ(run.value("assets_cert_not_after_timestamp_seconds",
                        with(endpoint(address), {{"chain_index", "0"}, {"subject_cn", "localhost"},
                                                 {"issuer_cn", "Assets Test Intermediate CA"},
                                                 {"serial", chain.leaf.serial_hex()}})),
              to_unix_seconds(leaf.not_after));
    EXPECT_EQ(run.value("assets_cert_not_before_timestamp_seconds", with(endpoint(address), {{"chain_index", "0"}})),
              to_unix_seconds(leaf.not_before));
    EXPECT_EQ(run.value("assets_cert_expired", with(endpoint(address), {{"chain_index", "0"}})), 0);
    EXPECT_EQ(run.samples("assets_cert_not_after_timestamp_seconds",
                          with(endpoint(address), {{"chain_index", "1"}, {"subject_cn", "Assets Test Intermediate CA"}}))
                  .size(),
              1u);
    EXPECT_EQ(run.samples("assets_cert_info", endpoint(address)).size(), 2u);
  }
  EXPECT_EQ(run.value("assets_cert_expiry_warning_seconds", endpoint(by_name)), 40 * 86400);
  EXPECT_EQ(run.value("assets_cert_expiry_warning_seconds", endpoint(server.address())), 21 * 86400);
  EXPECT_EQ(run.value("assets_cert_expiry_critical_seconds", endpoint(server.address())), 7 * 86400);
}

TEST_F(CertificatesEndpoints, UnknownCaSelfSignedExpiredAndWrongHostStillReportDates) {
  const CertificateSpec self_spec = leaf_spec("localhost");
  const Certificate self_signed = Certificate::make(self_spec);
  const CertificateSpec expired_spec = leaf_spec("localhost", -90 * kDay, -3 * kDay);
  const auto expired_chain = testing::make_chain(expired_spec);
  OpenSslServer trusted(dir, "trusted", chain.leaf, chain.intermediate.pem());
  OpenSslServer self(dir, "self", self_signed);
  OpenSslServer expired(dir, "expired", expired_chain.leaf, expired_chain.intermediate.pem());
  ASSETS_REQUIRE_COMPONENT(trusted.ready() && self.ready() && expired.ready(), "openssl s_server");
  write_file(dir / "expired-ca.pem", expired_chain.root.pem());
  const std::string wrong_host = "localhost:" + port_of(trusted.address());
  CertificatesRun run(config(endpoint_yaml(trusted.address()) +  // the system store does not know the test CA
                             endpoint_yaml(self.address(), "      server_name: localhost\n") +
                             endpoint_yaml(expired.address(), "      ca_file: " + (dir / "expired-ca.pem").string() + "\n") +
                             endpoint_yaml(wrong_host, "      server_name: other.test\n      ca_file: " + ca_file() + "\n")));
  run.run();
  struct Case {
    std::string address, why, reason;
  };
  const std::vector<Case> cases{{trusted.address(), "unable to get local issuer", "unknown_ca"},
                                {self.address(), "self-signed", "self_signed"},
                                {expired.address(), "expired", "expired"},
                                {wrong_host, "mismatch", "hostname_mismatch"}};
  for (const auto& [address, why, reason] : cases) {
    SCOPED_TRACE(address);
    const auto* status = run.target(address);
    ASSERT_NE(status, nullptr);
    EXPECT_TRUE(status->up) << status->detail;
    EXPECT_NE(status->detail.find("not verified (" + reason + "): "), std::string::npos) << status->detail;
    EXPECT_NE(status->detail.find(why), std::string::npos) << status->detail;
    EXPECT_EQ(run.value("assets_cert_target_up", endpoint(address)), 1);
    EXPECT_EQ(run.value("assets_cert_verified", endpoint(address)), 0);
    EXPECT_EQ(run.value("assets_cert_verify_failure", with(endpoint(address), {{"reason", reason}})), 1);
    EXPECT_EQ(run.samples("assets_cert_verify_failure", endpoint(address)).size(), 1u);
    EXPECT_FALSE(run.samples("assets_cert_not_after_timestamp_seconds", endpoint(address)).empty());
    EXPECT_TRUE(run.samples("assets_cert_target_failure", endpoint(address)).empty());
  }
  EXPECT_EQ(run.value("assets_cert_not_after_timestamp_seconds", with(endpoint(self.address()), {{"chain_index", "0"}})),
            to_unix_seconds(self_spec.not_after));
  EXPECT_EQ(run.value("assets_cert_not_after_timestamp_seconds", with(endpoint(expired.address()), {{"chain_index", "0"}})),
            to_unix_seconds(expired_spec.not_after));
  EXPECT_EQ(run.value("assets_cert_expired", with(endpoint(expired.address()), {{"chain_index", "0"}})), 1);
  EXPECT_EQ(run.value("assets_cert_expired", with(endpoint(expired.address()), {{"chain_index", "1"}})), 0);
}

TEST_F(CertificatesEndpoints, NginxServesEachNameItsOwnCertificate) {
  const CertificateSpec alpha = leaf_spec("alpha.test");
  const CertificateSpec beta = leaf_spec("beta.test", -kDay, 12 * kDay);
  NginxServer nginx(dir, {{"alpha.test", Certificate::make(alpha, &chain.intermediate)},
                          {"beta.test", Certificate::make(beta, &chain.intermediate)}});
  ASSETS_REQUIRE_COMPONENT(nginx.ready(), "nginx");
  const std::string port = std::to_string(nginx.ports().at(0));
  const std::string a = "127.0.0.1:" + port;
  const std::string b = "localhost:" + port;
  CertificatesRun run(config(endpoint_yaml(a, "      server_name: alpha.test\n      ca_file: " + ca_file() + "\n") +
                             endpoint_yaml(b, "      server_name: beta.test\n      ca_file: " + ca_file() + "\n")));
  run.run();
  for (const auto& [address, spec] : std::vector<std::pair<std::string, CertificateSpec>>{{a, alpha}, {b, beta}}) {
    SCOPED_TRACE(address);
    EXPECT_EQ(run.value("assets_cert_target_up", endpoint(address)), 1) << run.target(address)->detail;
    // nginx sends only the leaf here: the chain is incomplete, so verification fails, and the dates still come.
    EXPECT_EQ(run.value("assets_cert_verified", endpoint(address)), 0);
    EXPECT_EQ(run.value("assets_cert_verify_failure", with(endpoint(address), {{"reason", "incomplete_chain"}})), 1);
    EXPECT_EQ(run.value("assets_cert_not_after_timestamp_seconds",
                        with(endpoint(address), {{"chain_index", "0"}, {"subject_cn", spec.common_name}})),
              to_unix_seconds(spec.not_after));
    const auto info = run.samples("assets_cert_info", endpoint(address));
    ASSERT_EQ(info.size(), 1u);
    EXPECT_EQ(CertificatesRun::label(*info[0], "dns_names"), spec.common_name);
  }
}

// What a broken renewal or a wrong ssl_certificate leaves nginx serving, one name each.
TEST_F(CertificatesEndpoints, NginxServingEachKindOfBadCertificateGetsItsReason) {
  const auto chain_for = [this](const std::string& name, std::chrono::seconds from, std::chrono::seconds to) {
    return Certificate::make(leaf_spec(name, from, to), &chain.intermediate);
  };
  const auto other_ca = testing::make_chain(leaf_spec("unknown.test"));
  const std::string intermediate = chain.intermediate.pem();
  NginxServer nginx(dir,
                    {{"valid.test", chain_for("valid.test", -kDay, 60 * kDay), intermediate},
                     {"expired.test", chain_for("expired.test", -90 * kDay, -kDay), intermediate},
                     {"future.test", chain_for("future.test", 2 * kDay, 90 * kDay), intermediate},
                     {"self.test", Certificate::make(leaf_spec("self.test"))},
                     {"leafonly.test", chain_for("leafonly.test", -kDay, 60 * kDay)},
                     {"unknown.test", other_ca.leaf, other_ca.intermediate.pem()},
                     // Another CA's intermediate in place of its own: the chain stops at the leaf.
                     {"wrongchain.test", chain_for("wrongchain.test", -kDay, 60 * kDay), other_ca.intermediate.pem()},
                     // A private CA that serves its root too.
                     {"private.test", Certificate::make(leaf_spec("private.test"), &other_ca.intermediate),
                      other_ca.intermediate.pem() + other_ca.root.pem()}},
                    9);
  ASSETS_REQUIRE_COMPONENT(nginx.ready(), "nginx");
  // nginx answers a name it has no server block for with its default server, valid.test.
  const std::vector<std::pair<std::string, std::string>> cases{
      {"valid.test", ""},           {"expired.test", "expired"},           {"future.test", "not_yet_valid"},
      {"self.test", "self_signed"}, {"leafonly.test", "incomplete_chain"}, {"unknown.test", "unknown_ca"},
      {"other.test", "hostname_mismatch"}, {"wrongchain.test", "incomplete_chain"}, {"private.test", "unknown_ca"}};
  // One port per name, as an endpoint's address is its target label; every port serves every name.
  std::string endpoints;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    endpoints += endpoint_yaml(address_of(nginx.ports().at(i)),
                               "      server_name: " + cases[i].first + "\n      ca_file: " + ca_file() + "\n");
  }
  CertificatesRun run(config(endpoints));
  run.run();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [name, reason] = cases[i];
    const std::string address = address_of(nginx.ports().at(i));
    SCOPED_TRACE(name);
    EXPECT_EQ(run.value("assets_cert_target_up", endpoint(address)), 1) << run.target(address)->detail;
    EXPECT_EQ(run.value("assets_cert_verified", endpoint(address)), reason.empty() ? 1 : 0)
        << run.target(address)->detail;
    const auto failures = run.samples("assets_cert_verify_failure", endpoint(address));
    if (reason.empty()) {
      EXPECT_TRUE(failures.empty());
    } else {
      ASSERT_EQ(failures.size(), 1u);
      EXPECT_EQ(CertificatesRun::label(*failures[0], "reason"), reason) << run.target(address)->detail;
    }
  }
}

TEST_F(CertificatesEndpoints, SilentPeerTimesOutOnTimeAndClosedPortIsRefused) {
  SilentListener silent;
  SilentListener plain_text("220 smtp.assets.test ESMTP ready\r\n");
  const std::string closed = address_of(testing::free_tcp_port());
  // This name fails glibc's syntax check, so the lookup fails without a query leaving the host.
  const std::string unresolvable = "no_such!host.invalid:443";
  CertificatesRun run(config(endpoint_yaml(silent.address(), "      timeout: 1s\n") + endpoint_yaml(closed) +
                             endpoint_yaml(unresolvable) + endpoint_yaml(plain_text.address())));
  run.run();
  for (const auto& [address, reason] : std::vector<std::pair<std::string, std::string>>{
           {silent.address(), "timeout"}, {closed, "refused"}, {unresolvable, "dns"},
           {plain_text.address(), "tls_handshake"}}) {
    SCOPED_TRACE(address);
    EXPECT_EQ(run.value("assets_cert_target_up", endpoint(address)), 0);
    EXPECT_EQ(run.value("assets_cert_target_failure", with(endpoint(address), {{"reason", reason}})), 1);
    EXPECT_TRUE(run.samples("assets_cert_verified", endpoint(address)).empty());
    EXPECT_TRUE(run.samples("assets_cert_not_after_timestamp_seconds", endpoint(address)).empty());
    const auto* status = run.target(address);
    ASSERT_NE(status, nullptr);
    EXPECT_FALSE(status->up);
    EXPECT_EQ(status->reason, reason);
    EXPECT_FALSE(status->detail.empty());
  }
  const auto* hung = run.target(silent.address());
  EXPECT_GE(hung->duration_seconds, 0.95);
  EXPECT_LT(hung->duration_seconds, 3.0) << "the endpoint's own timeout, not the section's";
  EXPECT_NE(hung->detail.find("handshake"), std::string::npos) << hung->detail;
  EXPECT_LT(run.last_duration().count(), 5.0);
}

TEST_F(CertificatesEndpoints, StopRequestEndsAHangingProbe) {
  SilentListener silent;
  CertificatesRun run(config(endpoint_yaml(silent.address(), "      timeout: 10s\n")));
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  run.run(stop.get_token());
  stopper.join();
  EXPECT_LT(run.last_duration().count(), 3.0);
  EXPECT_EQ(run.value("assets_cert_target_failure", with(endpoint(silent.address()), {{"reason", "timeout"}})), 1);
}

TEST_F(CertificatesEndpoints, HundredEndpointsWithAQuarterHangingFinishInAboutTwoTimeouts) {
  constexpr int kEndpoints = 100;
  constexpr int kHanging = kEndpoints / 4;
  NginxServer nginx(dir, {{"localhost", chain.leaf}}, kEndpoints - kHanging);
  ASSETS_REQUIRE_COMPONENT(nginx.ready(), "nginx");
  std::vector<std::unique_ptr<SilentListener>> silent;
  for (int i = 0; i < kHanging; ++i) silent.push_back(std::make_unique<SilentListener>());
  std::string endpoints;
  std::vector<std::string> hanging_addresses;
  std::vector<std::string> good_addresses;
  for (int i = 0, good = 0, hung = 0; i < kEndpoints; ++i) {
    // Every fourth endpoint hangs, spread through the list.
    if (i % 4 == 3) {
      hanging_addresses.push_back(silent[static_cast<std::size_t>(hung++)]->address());
      endpoints += endpoint_yaml(hanging_addresses.back(), "      timeout: 2s\n");
    } else {
      good_addresses.push_back(address_of(nginx.ports()[static_cast<std::size_t>(good++)]));
      endpoints += endpoint_yaml(good_addresses.back(), "      timeout: 2s\n");
    }
  }
  CertificatesRun run(config(endpoints, "  max_parallel: 16\n"));
  run.run();
  // 25 hanging probes on 16 workers: two rounds of the 2s timeout, plus generous slack.
  EXPECT_GE(run.last_duration().count(), 3.9);
  EXPECT_LT(run.last_duration().count(), 7.0);
  for (const auto& address : good_addresses) {
    EXPECT_EQ(run.value("assets_cert_target_up", endpoint(address)), 1) << address << ": " << run.target(address)->detail;
  }
  for (const auto& address : hanging_addresses) {
    EXPECT_EQ(run.value("assets_cert_target_failure", with(endpoint(address), {{"reason", "timeout"}})), 1) << address;
  }
}

TEST_F(CertificatesEndpoints, PromtoolAcceptsTheExposition) {
  const std::string promtool = testing::find_program("promtool");
  ASSETS_REQUIRE_COMPONENT(!promtool.empty(), "promtool");
  OpenSslServer server(dir, "valid", chain.leaf, chain.intermediate.pem());
  ASSETS_REQUIRE_COMPONENT(server.ready(), "openssl s_server");
  CertificateSpec utf8 = leaf_spec("Zürich Ø");
  write_file(dir / "files/utf8.pem", Certificate::make(utf8).pem());
  write_file(dir / "files/bad.pem", "garbage");
  CertificatesRun run(config(endpoint_yaml(server.address(), "      ca_file: " + ca_file() + "\n") +
                                 endpoint_yaml(address_of(testing::free_tcp_port())),
                             "  files: [\"" + (dir / "files/*.pem").string() + "\"]\n"));
  run.run();
  write_file(dir / "metrics.txt", prometheus::TextSerializer().Serialize(run.result().families));
  std::string output;
  EXPECT_EQ(testing::run_command({"sh", "-c", promtool + " check metrics < " + (dir / "metrics.txt").string()}, &output), 0)
      << output;
}

}  // namespace
}  // namespace assets
