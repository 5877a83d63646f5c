// The real binary behind its web config: TLS 1.2 and 1.3, client certificates, basic auth,
// a bearer token, open paths, a certificate renewed on disk, the lifecycle flag, a bad web
// config at reload, idle TLS clients, and TLS where libssl-dev's names are absent. Clients
// are libcurl, as Prometheus' scrapes would be.
#include <crypt.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <thread>

#include "tests/support/cert_factory.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::AgentProcess;
using testing::Certificate;
using testing::CertificateSpec;
using Clock = std::chrono::steady_clock;

struct Client {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string user_password;  // "user:password" for basic auth
  std::string bearer;
  long max_version = CURL_SSLVERSION_MAX_DEFAULT;
  std::string method = "GET";
};

struct Answer {
  long status = 0;  // 0: no HTTP answer (the handshake failed)
  std::string body;
  std::string www_authenticate;
  std::string error;
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* out) {
  const std::string_view line(data, size * count);
  constexpr std::string_view kName = "www-authenticate:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == kName) {
      std::string value(line.substr(kName.size()));
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
      *static_cast<std::string*>(out) = value.substr(value.find_first_not_of(' '));
    }
  }
  return size * count;
}

Answer request(const std::string& url, const Client& client) {
  Answer answer;
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), curl_easy_cleanup);
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_CUSTOMREQUEST, client.method.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(easy.get(), CURLOPT_PROXY, "");
  curl_easy_setopt(easy.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(easy.get(), CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(easy.get(), CURLOPT_HEADERDATA, &answer.www_authenticate);
  curl_easy_setopt(easy.get(), CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2 | client.max_version);
  if (!client.ca_file.empty()) curl_easy_setopt(easy.get(), CURLOPT_CAINFO, client.ca_file.c_str());
  if (!client.cert_file.empty()) curl_easy_setopt(easy.get(), CURLOPT_SSLCERT, client.cert_file.c_str());
  if (!client.key_file.empty()) curl_easy_setopt(easy.get(), CURLOPT_SSLKEY, client.key_file.c_str());
  if (!client.user_password.empty()) curl_easy_setopt(easy.get(), CURLOPT_USERPWD, client.user_password.c_str());
  if (!client.bearer.empty()) {
    curl_easy_setopt(easy.get(), CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(easy.get(), CURLOPT_XOAUTH2_BEARER, client.bearer.c_str());
  }
  const CURLcode code = curl_easy_perform(easy.get());
  if (code == CURLE_OK) {
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  } else {
    answer.error = error[0] != '\0' ? error : curl_easy_strerror(code);
  }
  return answer;
}

std::string bcrypt(const std::string& password) {
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_rn(password.c_str(), "$2b$04$0123456789abcdefghijkl", data.get(), sizeof *data);
  return hash != nullptr ? hash : "";
}

// A server CA and certificate for 127.0.0.1, a client CA with two client certificates
// (one with an allowed SAN, one without), and a stranger CA with one client certificate.
class WebSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ca_ = std::make_unique<Certificate>(Certificate::make(ca_spec("server CA")));
    write_server(*server_ca_, "server");
    dir_.write("server-ca.crt", server_ca_->pem());
    const Certificate client_ca = Certificate::make(ca_spec("client CA"));
    dir_.write("client-ca.crt", client_ca.pem());
    write_client("allowed", client_ca, "prometheus.internal");
    write_client("other-san", client_ca, "laptop.internal");
    const Certificate stranger_ca = Certificate::make(ca_spec("stranger CA"));
    write_client("stranger", stranger_ca, "prometheus.internal");
    dir_.write("agent.yml", "global:\n  interval: 30s\n  timeout: 10s\n");
  }

  static CertificateSpec ca_spec(const std::string& name) {
    CertificateSpec spec;
    spec.common_name = name;
    spec.is_ca = true;
    return spec;
  }

  void write_server(const Certificate& ca, const std::string& name) {
    CertificateSpec spec;
    spec.common_name = "assets-agent";
    spec.ip_addresses = {"127.0.0.1"};
    const Certificate server = Certificate::make(spec, &ca);
    // Written beside and renamed over, as certbot's deploy hooks and cert-manager do.
    dir_.write(name + ".crt.new", server.pem());
    dir_.write(name + ".key.new", server.key().pem());
    fs::rename(dir_ / (name + ".key.new"), dir_ / (name + ".key"));
    fs::rename(dir_ / (name + ".crt.new"), dir_ / (name + ".crt"));
  }

  void write_client(const std::string& name, const Certificate& ca, const std::string& dns_name) {
    CertificateSpec spec;
    spec.common_name = name;
    spec.dns_names = {dns_name};
    const Certificate client = Certificate::make(spec, &ca);
    dir_.write(name + ".crt", client.pem());
    dir_.write(name + ".key", client.key().pem());
  }

  std::string tls_section(const std::string& extra = "") const {
    return "tls_server_config:\n  cert_file: " + path("server.crt") + "\n  key_file: " + path("server.key") + "\n" + extra;
  }

  void start(const std::string& web_config, std::vector<std::string> args = {},
             const std::vector<std::string>& launcher = {}) {
    dir_.write("web.yml", web_config);
    args.insert(args.end(), {"--config.file", path("agent.yml"), "--web.config.file", path("web.yml")});
    // A log of its own per start: the port is read from the first "listening" line.
    agent_ = std::make_unique<AgentProcess>(dir_ / ("agent-" + std::to_string(++starts_) + ".log"), args, launcher);
    ASSERT_GT(agent_->port(), 0) << agent_->log();
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string https(const std::string& url_path) const {
    return "https://127.0.0.1:" + std::to_string(agent_->port()) + url_path;
  }
  Client trusting() const {
    Client client;
    client.ca_file = path("server-ca.crt");
    return client;
  }
  Client with_certificate(const std::string& name) const {
    Client client = trusting();
    client.cert_file = path(name + ".crt");
    client.key_file = path(name + ".key");
    return client;
  }

  testing::TempDir dir_;
  std::unique_ptr<Certificate> server_ca_;
  std::unique_ptr<AgentProcess> agent_;
  int starts_ = 0;
};

TEST_F(WebSecurity, ServesTls12And13AndHonoursMinVersion) {
  start(tls_section());
  Client tls12 = trusting();
  tls12.max_version = CURL_SSLVERSION_MAX_TLSv1_2;
  EXPECT_EQ(request(https("/metrics"), tls12).status, 200) << request(https("/metrics"), tls12).error;
  EXPECT_EQ(request(https("/metrics"), trusting()).status, 200);
  EXPECT_EQ(testing::http_request("GET", "http://127.0.0.1:" + std::to_string(agent_->port()) + "/metrics").status, 0)
      << "plain HTTP must not be answered on a TLS port";
  EXPECT_NE(agent_->log().find("url=https://127.0.0.1:"), std::string::npos);

  agent_.reset();
  start(tls_section("  min_version: TLS13\n"));
  EXPECT_EQ(request(https("/metrics"), tls12).status, 0);
  EXPECT_EQ(request(https("/metrics"), trusting()).status, 200);
}

TEST_F(WebSecurity, ClientCertificatesAreVerifiedAndTheirSansChecked) {
  start(tls_section("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: " + path("client-ca.crt") +
                    "\n  client_allowed_sans: [prometheus.internal]\n"));
  const Answer accepted = request(https("/metrics"), with_certificate("allowed"));
  EXPECT_EQ(accepted.status, 200) << accepted.error;
  EXPECT_EQ(request(https("/metrics"), trusting()).status, 0) << "no certificate";
  EXPECT_EQ(request(https("/metrics"), with_certificate("stranger")).status, 0) << "a CA the agent does not trust";
  EXPECT_EQ(request(https("/metrics"), with_certificate("other-san")).status, 0) << "a SAN not allowed";
}

TEST_F(WebSecurity, BasicAuthAndBearerTokens) {
  dir_.write("token", "scrape-token-123\n");
  start("basic_auth_users:\n  prometheus: " + bcrypt("s3cret") + "\nbearer_token_file: " + path("token") +
        "\nunauthenticated_paths: [/healthz]\n");
  const std::string url = "http://127.0.0.1:" + std::to_string(agent_->port());
  Client client;
  client.user_password = "prometheus:s3cret";
  EXPECT_EQ(request(url + "/metrics", client).status, 200);
  client.user_password = "prometheus:wrong";
  const Answer wrong = request(url + "/metrics", client);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.www_authenticate.find("Basic"), std::string::npos) << wrong.www_authenticate;
  client.user_password = "grafana:s3cret";
  EXPECT_EQ(request(url + "/metrics", client).status, 401) << "unknown user";
  EXPECT_EQ(testing::http_request("GET", url + "/metrics", {"Authorization: Basic not-base64!"}).status, 401);
  EXPECT_EQ(testing::http_request("GET", url + "/metrics", {"Authorization: Basic"}).status, 401);
  EXPECT_EQ(testing::http_request("GET", url + "/metrics").status, 401);

  Client bearer;
  bearer.bearer = "scrape-token-123";
  EXPECT_EQ(request(url + "/metrics", bearer).status, 200);
  bearer.bearer = "scrape-token-124";
  EXPECT_EQ(request(url + "/metrics", bearer).status, 401);

  EXPECT_EQ(testing::http_request("GET", url + "/healthz").status, 200) << "an unauthenticated path";
  EXPECT_EQ(testing::http_request("GET", url + "/-/healthy").status, 401) << "only the paths listed are open";
  const std::string log = agent_->log();
  for (const char* secret : {"s3cret", "scrape-token-123", "$2b$04$"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "a secret reached the log: " << secret;
  }
}

TEST_F(WebSecurity, ARenewedCertificateIsServedWithoutARestart) {
  start(tls_section());
  ASSERT_EQ(request(https("/metrics"), trusting()).status, 200);
  const Certificate renewed_ca = Certificate::make(ca_spec("renewed CA"));
  dir_.write("renewed-ca.crt", renewed_ca.pem());
  write_server(renewed_ca, "server");
  Client trusting_renewed;
  trusting_renewed.ca_file = path("renewed-ca.crt");
  const Answer renewed = request(https("/metrics"), trusting_renewed);
  EXPECT_EQ(renewed.status, 200) << renewed.error << agent_->log();
  EXPECT_EQ(request(https("/metrics"), trusting()).status, 0) << "the old certificate is still served";

  // Dropping TLS at a reload is refused: the listeners keep TLS, and the reload is a failure.
  dir_.write("web.yml", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n");
  ASSERT_EQ(kill(agent_->process().pid(), SIGHUP), 0);
  EXPECT_TRUE(testing::eventually([&] { return agent_->log().find("tls_server_config changed") != std::string::npos; }))
      << agent_->log();
  EXPECT_EQ(request(https("/metrics"), trusting_renewed).status, 200);
}

TEST_F(WebSecurity, AChangedClientCaFileIsUsedWithoutARestart) {
  start(tls_section("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: " + path("client-ca.crt") + "\n"));
  ASSERT_EQ(request(https("/metrics"), with_certificate("allowed")).status, 200);
  ASSERT_EQ(request(https("/metrics"), with_certificate("stranger")).status, 0);
  // The stranger's CA replaces the client CA file, as a CA rotation would.
  const Certificate rotated_ca = Certificate::make(ca_spec("rotated client CA"));
  write_client("rotated", rotated_ca, "prometheus.internal");
  dir_.write("client-ca.crt.new", rotated_ca.pem());
  fs::rename(dir_ / "client-ca.crt.new", dir_ / "client-ca.crt");
  const Answer rotated = request(https("/metrics"), with_certificate("rotated"));
  EXPECT_EQ(rotated.status, 200) << rotated.error << agent_->log();
  EXPECT_EQ(request(https("/metrics"), with_certificate("allowed")).status, 0) << "the old CA is still trusted";
}

TEST_F(WebSecurity, LifecycleIsOptInAndABadWebConfigAtReloadKeepsTheRunningOne) {
  const std::string alice = "basic_auth_users:\n  alice: " + bcrypt("a-password") + "\n";
  start(alice);
  const std::string url = "http://127.0.0.1:" + std::to_string(agent_->port());
  Client client;
  client.user_password = "alice:a-password";
  client.method = "POST";
  const Answer refused = request(url + "/-/reload", client);
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("--web.enable-lifecycle"), std::string::npos);

  agent_.reset();
  start(alice, {"--web.enable-lifecycle"});
  const std::string lifecycle_url = "http://127.0.0.1:" + std::to_string(agent_->port());
  EXPECT_EQ(request(lifecycle_url + "/-/reload", client).status, 200);

  dir_.write("web.yml", "basic_auth_users:\n  alice: plain-text\n");
  const Answer bad = request(lifecycle_url + "/-/reload", client);
  EXPECT_EQ(bad.status, 500);
  client.method = "GET";
  EXPECT_EQ(request(lifecycle_url + "/metrics", client).status, 200) << "the running web config stays";
  EXPECT_EQ(agent_->log().find("plain-text"), std::string::npos);

  dir_.write("web.yml", "basic_auth_users:\n  bob: " + bcrypt("b-password") + "\n");
  ASSERT_EQ(kill(agent_->process().pid(), SIGHUP), 0);
  client.user_password = "bob:b-password";
  EXPECT_TRUE(testing::eventually([&] { return request(lifecycle_url + "/metrics", client).status == 200; }));
  client.user_password = "alice:a-password";
  EXPECT_EQ(request(lifecycle_url + "/metrics", client).status, 401);
}

TEST_F(WebSecurity, IdleTlsClientsDoNotHoldAFreshScrape) {
  start(tls_section());
  std::vector<int> idle;
  for (int i = 0; i < 48; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(agent_->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    if (i % 2 == 0) {
      ASSERT_EQ(send(fd, "\x16\x03\x01", 3, MSG_NOSIGNAL), 3);  // a handshake that never goes on
    }
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);
  auto best = Clock::duration::max();
  for (int i = 0; i < 5; ++i) {
    const auto started = Clock::now();
    const Answer answer = request(https("/metrics"), trusting());
    best = std::min(best, Clock::now() - started);
    EXPECT_EQ(answer.status, 200) << answer.error;
  }
  EXPECT_LT(best, 50ms);
  for (int fd : idle) close(fd);
}

// A host with only libssl3: the names libssl.so and libcrypto.so, which civetweb loads and
// only libssl-dev installs, are hidden by an overlay in a mount namespace of the agent's own.
TEST_F(WebSecurity, TlsWorksWhereOnlyTheRuntimeLibrariesAreInstalled) {
  if (geteuid() != 0 || testing::find_program("unshare").empty()) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string_view(ci) == "true") {
      FAIL() << "needs root and unshare";
    } else {
      GTEST_SKIP() << "needs root and unshare";
    }
  }
  const std::string libraries = fs::canonical("/usr/lib/x86_64-linux-gnu").string();
  fs::create_directory(dir_ / "overlay");
  const std::string hide =
      "set -e; t=$1; shift; mount -t tmpfs none \"$t\"; mkdir \"$t/upper\" \"$t/work\"; "
      "mknod \"$t/upper/libssl.so\" c 0 0; mknod \"$t/upper/libcrypto.so\" c 0 0; "
      "mount -t overlay overlay -o \"lowerdir=" + libraries + ",upperdir=$t/upper,workdir=$t/work\" " + libraries +
      "; test ! -e " + libraries + "/libssl.so; exec \"$@\"";
  start(tls_section(), {}, {"unshare", "--mount", "--propagation", "private", "sh", "-c", hide, "sh", path("overlay")});
  const Answer answer = request(https("/metrics"), trusting());
  EXPECT_EQ(answer.status, 200) << answer.error << agent_->log();
}

}  // namespace
}  // namespace assets
