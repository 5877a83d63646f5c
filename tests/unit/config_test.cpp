#include "agent/config.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "collectors/backups/config.h"
#include "collectors/certificates/config.h"
#include "collectors/containers/config.h"
#include "collectors/health/config.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::vector<CheckConfig>& health_checks(const Config& config) {
  static const std::vector<CheckConfig> kNone;
  const auto* health = config.section<HealthConfig>("health");
  return health != nullptr ? health->checks : kNone;
}

fs::path testdata() { return testing::source_dir() / "tests" / "testdata"; }

using testing::read_file;

// Each invalid-*.yml states the errors it must produce in "# expect: line:col: path: message" lines.
std::vector<std::string> expected_errors(const fs::path& file) {
  std::vector<std::string> expected;
  std::istringstream lines(read_file(file));
  std::string line;
  const std::string marker = "# expect: ";
  while (std::getline(lines, line)) {
    if (line.rfind(marker, 0) == 0) expected.push_back(file.string() + ":" + line.substr(marker.size()));
  }
  return expected;
}

std::vector<fs::path> invalid_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(testdata())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("invalid-", 0) == 0 && entry.path().extension() == ".yml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class InvalidConfig : public ::testing::TestWithParam<fs::path> {};

TEST_P(InvalidConfig, ReportsEveryErrorWithPosition) {
  const fs::path file = GetParam();
  const auto expected = expected_errors(file);
  ASSERT_FALSE(expected.empty()) << file << " has no '# expect:' line";
  const ConfigResult result = load_config_file(file.string());
  EXPECT_FALSE(result.config.has_value());
  std::vector<std::string> actual;
  for (const auto& error : result.errors) actual.push_back(error.to_string());
  EXPECT_EQ(actual, expected);
}

INSTANTIATE_TEST_SUITE_P(Testdata, InvalidConfig, ::testing::ValuesIn(invalid_files()),
                         [](const auto& param_info) {
                           std::string name = param_info.param.stem().string();
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(InvalidConfigFiles, AtLeastTwentyFive) { EXPECT_GE(invalid_files().size(), 25U); }

TEST(Config, EmbeddedDefaultIsValid) {
  const ConfigResult result = load_default_config();
  ASSERT_TRUE(result.config.has_value()) << (result.errors.empty() ? "" : result.errors.front().to_string());
  const Config& config = *result.config;
  EXPECT_EQ(config.global.interval, 30s);
  EXPECT_EQ(config.global.timeout, 10s);
  const auto& checks = health_checks(config);
  ASSERT_EQ(checks.size(), 5U);
  EXPECT_EQ(std::get<HttpCheck>(checks[0].probe).url, "http://127.0.0.1:8000/healthz");
  EXPECT_EQ(checks[3].kind(), CheckKind::tcp);
  EXPECT_EQ(std::get<TcpCheck>(checks[3].probe).send, "PING\r\n");
  EXPECT_EQ(checks[4].kind(), CheckKind::postgres);
  ASSERT_NE(config.section<ContainersConfig>("containers"), nullptr);
  EXPECT_EQ(config.section<ContainersConfig>("containers")->socket, "/var/run/docker.sock");
  ASSERT_NE(config.section<BackupsConfig>("backups"), nullptr);
  ASSERT_EQ(config.section<BackupsConfig>("backups")->sets.size(), 1U);
  EXPECT_EQ(config.section<BackupsConfig>("backups")->sets[0].path, "/var/backups/assets");
  ASSERT_NE(config.section<CertificatesConfig>("certificates"), nullptr);
  EXPECT_EQ(config.section<CertificatesConfig>("certificates")->files,
            std::vector<std::string>{"/etc/letsencrypt/live/*/fullchain.pem"});
}

TEST(Config, DocumentationShowsTheEmbeddedDefault) {
  std::string yaml(embedded_default_config());
  yaml = yaml.substr(yaml.find_first_not_of('\n'));
  EXPECT_NE(read_file(testing::source_dir() / "docs" / "configuration.md").find(yaml), std::string::npos)
      << "docs/configuration.md must end with the embedded default as agent/default_config.cpp has it";
}

TEST(Config, ShippedExampleIsValidWithItsSecretsToo) {
  // Step two of docs/deploy.md uncomments the secret files, systemd credentials; point
  // them at stand-ins.
  testing::TempDir dir;
  dir.write("assets_monitor_token", "token\n");
  dir.write("db_monitor_password", "password\n");
  const std::string installed = read_file(testing::source_dir() / "deploy" / "assets-agent.yml");
  std::string with_secrets =
      std::regex_replace(installed, std::regex("# ((bearer_token|password)_file): /run/credentials/assets-agent.service"),
                         "$1: " + dir.path().string());
  ASSERT_NE(with_secrets, installed);
  for (const std::string& yaml : {installed, with_secrets}) {
    const ConfigResult result = parse_config(yaml, "assets-agent.yml");
    ASSERT_TRUE(result.config.has_value()) << (result.errors.empty() ? "" : result.errors.front().to_string());
  }
  EXPECT_EQ(with_secrets.find("/run/credentials"), std::string::npos) << "a secret file not pointed at a stand-in";
}

TEST(Config, DefaultsComeFromTheStructs) {
  const ConfigResult result = parse_config("health:\n  - name: api\n    kind: http\n    url: http://x/\n", "t.yml");
  ASSERT_TRUE(result.config.has_value());
  const HttpCheck& http = std::get<HttpCheck>(health_checks(*result.config)[0].probe);
  EXPECT_EQ(http.method, "GET");
  EXPECT_EQ(http.valid_status_codes, std::vector<StatusRange>{StatusRange{}});
  EXPECT_TRUE(http.follow_redirects);
  EXPECT_EQ(http.max_body_bytes, 1U << 20);
  EXPECT_EQ(health_checks(*result.config)[0].interval, 30s);
  EXPECT_EQ(result.config->section<ContainersConfig>("containers"), nullptr);
  EXPECT_EQ(result.config->section<CertificatesConfig>("certificates"), nullptr);
}

TEST(Config, ExpandsEnvironmentVariables) {
  setenv("ASSETS_AGENT_TEST_HOST", "10.0.0.7", 1);
  const ConfigResult result = parse_config(
      "health:\n  - name: api\n    kind: http\n    url: http://${ASSETS_AGENT_TEST_HOST}:8000/$$path\n", "t.yml");
  ASSERT_TRUE(result.config.has_value());
  EXPECT_EQ(std::get<HttpCheck>(health_checks(*result.config)[0].probe).url, "http://10.0.0.7:8000/$path");
}

TEST(Config, ReadsSecretsFromFilesAndNeverPrintsThem) {
  testing::TempDir dir;
  const std::string secret = "s3cr3t-Pa55word-for-test";
  dir.write("password", secret + "\n");
  const std::string yaml = "health:\n  - name: db\n    kind: postgres\n    password_file: " +
                           (dir / "password").string() + "\n    sslmode: bogus\n";
  ConfigResult result = parse_config(yaml, "t.yml");
  ASSERT_FALSE(result.config.has_value());
  for (const auto& error : result.errors) EXPECT_EQ(error.to_string().find(secret), std::string::npos);

  result = parse_config(yaml.substr(0, yaml.find("    sslmode")), "t.yml");
  ASSERT_TRUE(result.config.has_value());
  EXPECT_EQ(std::get<PostgresCheck>(health_checks(*result.config)[0].probe).password.reveal(), secret);
}

TEST(Config, InlineSecretWithWrongTypeDoesNotEchoIt) {
  const ConfigResult result =
      parse_config("health:\n  - name: db\n    kind: postgres\n    password: [hunter2-secret]\n", "t.yml");
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].to_string().find("hunter2-secret"), std::string::npos);
  EXPECT_EQ(result.errors[0].to_string(), "t.yml:4:15: health[0].password: must be a value, not a list");
}

TEST(Config, MissingFileIsAnError) {
  const ConfigResult result = load_config_file("/nonexistent/assets-agent.yml");
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].to_string(),
            "/nonexistent/assets-agent.yml: cannot read /nonexistent/assets-agent.yml: No such file or directory");
}

TEST(Config, OversizedFileIsRefused) {
  testing::TempDir dir;
  dir.write("big.yml", "# " + std::string(5 << 20, 'x') + "\n");
  const ConfigResult result = load_config_file((dir / "big.yml").string());
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_NE(result.errors[0].message.find("larger than 4MiB"), std::string::npos);
}

// Defect 9: an error message quoted an expanded value whole, and expansions had no bound.
TEST(Config, LongValuesAreCutInMessagesAndExpansionIsBounded) {
  setenv("ASSETS_AGENT_TEST_LONG", std::string(100000, 'x').c_str(), 1);
  const ConfigResult quoted = parse_config(
      "health:\n  - name: redis\n    kind: tcp\n    address: \"${ASSETS_AGENT_TEST_LONG}\"\n", "t.yml");
  ASSERT_EQ(quoted.errors.size(), 1U);
  EXPECT_EQ(quoted.errors[0].message, "must be host:port, not \"" + std::string(80, 'x') + "...\" (100000 bytes)");

  std::string many;
  for (int i = 0; i < 20; ++i) many += "${ASSETS_AGENT_TEST_LONG}";
  const ConfigResult expanded =
      parse_config("health:\n  - name: redis\n    kind: tcp\n    address: \"" + many + "\"\n", "t.yml");
  ASSERT_EQ(expanded.errors.size(), 1U);
  EXPECT_EQ(expanded.errors[0].to_string(),
            "t.yml:4:14: health[0].address: environment variable ASSETS_AGENT_TEST_LONG makes the value longer than 1MiB");
  unsetenv("ASSETS_AGENT_TEST_LONG");
}

// Defect 10: a check name that was not UTF-8 passed, and Prometheus then rejected every
// sample of the scrape. The file is checked whole (tests/testdata/invalid-utf8-*.yml);
// values from the environment when they are expanded.
TEST(Config, EnvironmentValuesMustBeUtf8) {
  setenv("ASSETS_AGENT_TEST_LATIN1", "z\xfcrich", 1);
  const ConfigResult result = parse_config(
      "health:\n  - name: ${ASSETS_AGENT_TEST_LATIN1}\n    kind: tcp\n    address: 127.0.0.1:1\n", "t.yml");
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].to_string(), "t.yml:2:11: health[0].name: environment variable ASSETS_AGENT_TEST_LATIN1 is not valid UTF-8");
  unsetenv("ASSETS_AGENT_TEST_LATIN1");
}

// Defect 5: a FIFO where a file is expected made config check wait forever for a writer.
TEST(Config, FifoWhereAFileIsExpectedIsAnErrorNotAHang) {
  testing::TempDir dir;
  const std::string fifo = (dir / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const ConfigResult config_file = load_config_file(fifo);
  ASSERT_EQ(config_file.errors.size(), 1U);
  EXPECT_EQ(config_file.errors[0].message, fifo + " is not a regular file");

  const ConfigResult secret = parse_config(
      "health:\n  - name: db\n    kind: postgres\n    password_file: " + fifo + "\n", "t.yml");
  ASSERT_EQ(secret.errors.size(), 1U);
  EXPECT_EQ(secret.errors[0].to_string(), "t.yml:4:20: health[0].password_file: " + fifo + " is not a regular file");

  const ConfigResult body = parse_config(
      "health:\n  - name: api\n    kind: http\n    url: http://127.0.0.1:1/\n    method: POST\n    body_file: " + fifo +
          "\n",
      "t.yml");
  ASSERT_EQ(body.errors.size(), 1U);
  EXPECT_EQ(body.errors[0].to_string(), "t.yml:6:16: health[0].body_file: " + fifo + " is not a regular file");

  const ConfigResult ca = parse_config(
      "health:\n  - name: api\n    kind: http\n    url: https://127.0.0.1:1/\n    tls:\n      ca_file: " + fifo + "\n",
      "t.yml");
  ASSERT_EQ(ca.errors.size(), 1U);
  EXPECT_EQ(ca.errors[0].to_string(), "t.yml:6:16: health[0].tls.ca_file: " + fifo + " is not a regular file");
}

}  // namespace
}  // namespace assets
