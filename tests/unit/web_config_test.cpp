// The web config (exporter-toolkit's format) and who it lets in.
#include "agent/web_config.h"

#include <crypt.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "agent/agent.h"
#include "agent/web_auth.h"
#include "tests/support/cert_factory.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

namespace fs = std::filesystem;

const ConfigOptions kWithoutFiles{.read_named_files = false};

fs::path web_testdata() { return testing::source_dir() / "tests" / "testdata" / "web"; }

std::vector<fs::path> invalid_web_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(web_testdata())) {
    if (entry.path().filename().string().rfind("invalid-", 0) == 0) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class InvalidWebConfig : public ::testing::TestWithParam<fs::path> {};

// Each file names its one rule in "# expect: line:col: path: message" lines.
TEST_P(InvalidWebConfig, ReportsTheRuleWithItsPosition) {
  const fs::path file = GetParam();
  std::vector<std::string> expected;
  std::istringstream lines(testing::read_file(file));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# expect: ", 0) == 0) expected.push_back(file.string() + ":" + line.substr(10));
  }
  const WebConfigResult result = load_web_config_file(file.string(), kWithoutFiles);
  std::vector<std::string> actual;
  for (const auto& error : result.errors) actual.push_back(error.to_string());
  EXPECT_FALSE(result.config.has_value());
  EXPECT_EQ(actual, expected);
  for (const auto& message : actual) {
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << "a password reached a message";
  }
}

INSTANTIATE_TEST_SUITE_P(Testdata, InvalidWebConfig, ::testing::ValuesIn(invalid_web_files()),
                         [](const auto& param_info) {
                           std::string name = param_info.param.stem().string();
                           std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
                           return name;
                         });

TEST(WebConfig, AFileWrittenForNodeExporterIsAcceptedUnchanged) {
  // Every key of exporter-toolkit's documented web configuration, as its documentation
  // lays them out (values chosen here).
  const char* documented = R"(tls_server_config:
  cert_file: /etc/node_exporter/server.crt
  key_file: /etc/node_exporter/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: /etc/node_exporter/clients.crt
  client_allowed_sans:
    - prometheus.example.org
  min_version: TLS12
  max_version: TLS13
  cipher_suites:
    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
  prefer_server_cipher_suites: true
  curve_preferences:
    - CurveP256
    - X25519
http_server_config:
  http2: true
  headers:
    Strict-Transport-Security: max-age=31536000
    X-Content-Type-Options: nosniff
    X-Frame-Options: deny
    X-XSS-Protection: 1; mode=block
    Content-Security-Policy: default-src 'self'
basic_auth_users:
  prometheus: $2y$10$QWBY4mHcvLvSu5ANWyhNDeUr.gwHakDzjP0YQ7hUbIbkH3OeRDqIa
)";
  const WebConfigResult result = parse_web_config(documented, "web.yml", kWithoutFiles);
  ASSERT_TRUE(result.config) << (result.errors.empty() ? "" : result.errors.front().to_string());
  const WebConfig& web = *result.config;
  ASSERT_TRUE(web.tls);
  EXPECT_EQ(web.tls->client_auth, ClientAuth::require_and_verify);
  EXPECT_EQ(web.tls->curve_preferences, (std::vector<std::string>{"P-256", "X25519"}));
  EXPECT_EQ(web.headers.size(), 5U);
  EXPECT_EQ(web.basic_auth_users.count("prometheus"), 1U);
  EXPECT_TRUE(web.requires_authentication());
}

TEST(WebConfig, ExporterToolkitsOlderNamesAndCombinationsAreAccepted) {
  const WebConfigResult result = parse_web_config(
      "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: RequireClientCert\n"
      "  client_ca_file: clients.crt\n",
      "web.yml", kWithoutFiles);
  ASSERT_TRUE(result.config) << (result.errors.empty() ? "" : result.errors.front().to_string());
  EXPECT_EQ(result.config->tls->client_auth, ClientAuth::require_any);
}

TEST(WebConfig, TlsFilesAreLoadedWhenTheFileIsChecked) {
  testing::TempDir dir;
  testing::CertificateSpec leaf;
  leaf.common_name = "localhost";
  leaf.dns_names = {"localhost"};
  const auto chain = testing::make_chain(leaf);
  dir.write("server.crt", chain.full_chain_pem());
  dir.write("server.key", chain.leaf.key().pem());
  dir.write("other.key", testing::PrivateKey::generate(testing::KeyAlgorithm::ecdsa_p256).pem());
  dir.write("good.yml", "tls_server_config:\n  cert_file: " + (dir / "server.crt").string() + "\n  key_file: " +
                            (dir / "server.key").string() + "\n");
  dir.write("mismatch.yml", "tls_server_config:\n  cert_file: " + (dir / "server.crt").string() + "\n  key_file: " +
                                (dir / "other.key").string() + "\n");
  EXPECT_TRUE(load_web_config_or_throw((dir / "good.yml").string()).tls);
  try {
    load_web_config_or_throw((dir / "mismatch.yml").string());
    FAIL() << "a key that does not match the certificate was accepted";
  } catch (const ConfigLoadError& e) {
    ASSERT_EQ(e.errors().size(), 1U);
    EXPECT_NE(e.errors()[0].to_string().find("key_file does not match cert_file"), std::string::npos)
        << e.errors()[0].to_string();
  }
}

std::string bcrypt(const std::string& password) {
  // Cost 4, the lowest, keeps the test fast; the agent verifies any cost.
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_rn(password.c_str(), "$2b$04$abcdefghijklmnopqrstuu", data.get(), sizeof *data);
  return hash != nullptr ? hash : "";
}

std::string basic(const std::string& credentials) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < credentials.size(); i += 3) {
    const std::size_t left = std::min<std::size_t>(3, credentials.size() - i);
    std::uint32_t chunk = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      chunk = chunk << 8 | (j < left ? static_cast<unsigned char>(credentials[i + j]) : 0U);
    }
    for (std::size_t j = 0; j < 4; ++j) out += j <= left ? kAlphabet[(chunk >> (18 - 6 * j)) & 63] : '=';
  }
  return "Basic " + out;
}

TEST(WebAuthenticator, BasicAuthAcceptsOnlyTheRightPassword) {
  WebConfig web;
  web.basic_auth_users.emplace("alice", Secret(bcrypt("correct horse")));
  const WebAuthenticator auth(web);
  EXPECT_TRUE(auth.allows("/metrics", basic("alice:correct horse").c_str()));
  EXPECT_TRUE(auth.allows("/metrics", basic("alice:correct horse").c_str()));  // from the cache
  EXPECT_FALSE(auth.allows("/metrics", basic("alice:wrong").c_str()));
  EXPECT_FALSE(auth.allows("/metrics", basic("mallory:correct horse").c_str()));
  EXPECT_FALSE(auth.allows("/metrics", nullptr));
  for (const char* malformed : {"Basic", "Basic !!!!", "Basic YWxpY2U=", "Digest abc", "alice:correct horse"}) {
    EXPECT_FALSE(auth.allows("/metrics", malformed)) << malformed;
  }
  EXPECT_NE(auth.challenge().find("Basic"), std::string::npos);
}

TEST(WebAuthenticator, BearerTokenAndOpenPaths) {
  WebConfig web;
  web.bearer_token = Secret("s3cr3t-token");
  web.unauthenticated_paths = {"/healthz"};
  const WebAuthenticator auth(web);
  EXPECT_TRUE(auth.allows("/metrics", "Bearer s3cr3t-token"));
  EXPECT_FALSE(auth.allows("/metrics", "Bearer s3cr3t-tokenX"));
  EXPECT_FALSE(auth.allows("/metrics", "Bearer "));
  EXPECT_FALSE(auth.allows("/metrics", basic("s3cr3t-token:x").c_str()));
  EXPECT_TRUE(auth.allows("/healthz", nullptr));
  EXPECT_FALSE(auth.allows("/healthz/", nullptr));
  EXPECT_EQ(auth.challenge(), "Bearer");
}

TEST(WebAuthenticator, WithoutUsersOrTokenEveryoneIsLetIn) {
  const WebAuthenticator auth(WebConfig{});
  EXPECT_TRUE(auth.allows("/metrics", nullptr));
  EXPECT_TRUE(auth.allows("/-/reload", "Basic garbage"));
}

}  // namespace
}  // namespace assets
