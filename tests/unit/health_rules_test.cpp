// The health collector's pure parts: response rules, header parsing, timing phases, error
// classification, detail sanitizing, address splitting and the collector spec.
#include <curl/curl.h>

#include <gtest/gtest.h>

#include "agent/config.h"
#include "agent/host_port.h"
#include "collectors/health/health.h"
#include "collectors/health/check.h"
#include "collectors/health/http.h"
#include "collectors/health/postgres.h"
#include "tests/support/configured_collector.h"
#include "tests/support/golden.h"
#include "tests/support/test_support.h"

namespace assets::health {
namespace {

HttpCheck with_rules(std::vector<Regex> body_matches, std::vector<Regex> body_not_matches,
                     std::vector<HeaderMatch> header_matches = {}, std::vector<HeaderMatch> header_not_matches = {}) {
  HttpCheck check;
  check.fail_if_body_matches = std::move(body_matches);
  check.fail_if_body_not_matches = std::move(body_not_matches);
  check.fail_if_header_matches = std::move(header_matches);
  check.fail_if_header_not_matches = std::move(header_not_matches);
  return check;
}

TEST(HealthRulesTest, StatusRanges) {
  const std::vector<StatusRange> default_range{StatusRange{}};
  EXPECT_FALSE(status_violation(200, default_range));
  EXPECT_FALSE(status_violation(299, default_range));
  EXPECT_TRUE(status_violation(301, default_range));
  EXPECT_TRUE(status_violation(0, default_range));
  const std::vector<StatusRange> several{{200, 399}, {404, 404}};
  EXPECT_FALSE(status_violation(302, several));
  EXPECT_FALSE(status_violation(404, several));
  const auto violation = status_violation(500, several);
  ASSERT_TRUE(violation);
  EXPECT_EQ(*violation, "status code 500 is not one of the valid codes (200-399, 404)");
}

TEST(HealthRulesTest, BodyRulesMatchAnywhere) {
  const auto rules = with_rules({"maintenance"}, {"\"status\":\\s*\"ok\""});
  EXPECT_FALSE(body_violation(R"({"status": "ok"})", rules));
  const auto missing = body_violation(R"({"status": "degraded"})", rules);
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("does not match"), std::string::npos);
  const auto forbidden = body_violation(R"({"status": "ok", "mode": "maintenance"})", rules);
  ASSERT_TRUE(forbidden);
  EXPECT_NE(forbidden->find("fail_if_body_matches"), std::string::npos);
}

TEST(HealthRulesTest, HeaderRulesFollowBlackboxSemantics) {
  const HeaderList headers = parse_header_block(
      "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nX-Mode:  live \r\nSet-Cookie: a=1\r\n"
      "Set-Cookie: b=2\r\n\r\n");
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[0], (std::pair<std::string, std::string>{"content-type", "text/html; charset=utf-8"}));
  EXPECT_EQ(headers[1].second, "live");

  EXPECT_FALSE(header_violation(headers, with_rules({}, {}, {{"X-Mode", "maint", false}})));
  EXPECT_TRUE(header_violation(headers, with_rules({}, {}, {{"x-mode", "^li", false}})));
  // Missing headers fail both kinds of rule unless allow_missing.
  EXPECT_TRUE(header_violation(headers, with_rules({}, {}, {{"X-Other", "x", false}})));
  EXPECT_FALSE(header_violation(headers, with_rules({}, {}, {{"X-Other", "x", true}})));
  EXPECT_TRUE(header_violation(headers, with_rules({}, {}, {}, {{"X-Other", "x", false}})));
  EXPECT_FALSE(header_violation(headers, with_rules({}, {}, {}, {{"X-Other", "x", true}})));
  // Any value of a repeated header may satisfy a not_matches rule.
  EXPECT_FALSE(header_violation(headers, with_rules({}, {}, {}, {{"Set-Cookie", "^b=", false}})));
  EXPECT_TRUE(header_violation(headers, with_rules({}, {}, {}, {{"Set-Cookie", "^c=", false}})));
}

TEST(HealthRulesTest, PhasesFromCurlTimings) {
  const auto phases = phase_durations({0.010, 0.015, 0.040, 0.041, 0.141, 0.200});
  EXPECT_DOUBLE_EQ(phases.resolve, 0.010);
  EXPECT_NEAR(phases.connect, 0.005, 1e-12);
  EXPECT_NEAR(phases.tls, 0.025, 1e-12);
  EXPECT_NEAR(phases.processing, 0.100, 1e-12);
  EXPECT_NEAR(phases.transfer, 0.059, 1e-12);

  const auto plain = phase_durations({0.001, 0.002, 0, 0.002, 0.010, 0.011});
  EXPECT_EQ(plain.tls, 0);

  // The server accepted the request and never answered: it all went to processing.
  const auto hanging = phase_durations({0.001, 0.002, 0, 0.003, 0, 2.0});
  EXPECT_NEAR(hanging.processing, 1.997, 1e-12);
  EXPECT_EQ(hanging.transfer, 0);

  // Refused: nothing after the lookup.
  const auto refused = phase_durations({0.001, 0, 0, 0, 0, 0.002});
  EXPECT_EQ(refused.connect, 0);
  EXPECT_EQ(refused.processing, 0);
}

TEST(HealthRulesTest, CurlErrorsMapToBoundedReasons) {
  EXPECT_EQ(classify_curl_error(CURLE_OPERATION_TIMEDOUT), "timeout");
  EXPECT_EQ(classify_curl_error(CURLE_COULDNT_CONNECT), "refused");
  EXPECT_EQ(classify_curl_error(CURLE_COULDNT_RESOLVE_HOST), "dns");
  EXPECT_EQ(classify_curl_error(CURLE_PEER_FAILED_VERIFICATION), "tls");
  EXPECT_EQ(classify_curl_error(CURLE_SSL_CONNECT_ERROR), "tls");
  EXPECT_EQ(classify_curl_error(CURLE_TOO_MANY_REDIRECTS), "status");
  EXPECT_EQ(classify_curl_error(CURLE_GOT_NOTHING), "protocol");
  EXPECT_EQ(classify_curl_error(CURLE_WEIRD_SERVER_REPLY), "protocol");
  EXPECT_EQ(classify_curl_error(CURLE_LOGIN_DENIED), "auth");
  EXPECT_EQ(classify_curl_error(CURLE_OUT_OF_MEMORY), "other");
}

TEST(HealthRulesTest, UrlPasswordsAreFoundRawAndDecoded) {
  EXPECT_EQ(url_passwords("https://user:p%40ss@example.com/"), (std::vector<std::string>{"p%40ss", "p@ss"}));
  EXPECT_TRUE(url_passwords("https://user@example.com/").empty());
  EXPECT_TRUE(url_passwords("https://example.com/").empty());
}

TEST(HealthRulesTest, ServerNameRewritesTheRequestAndConnectsToTheUrlHost) {
  HttpCheck check;
  check.url = "https://127.0.0.1:8443/healthz";
  check.tls = TlsConfig{};
  check.tls->server_name = "assets.example";
  const HttpProbe probe(check, std::chrono::seconds(5));
  EXPECT_EQ(probe.request_url(), "https://assets.example:8443/healthz");
  EXPECT_EQ(probe.connect_to(), "assets.example:8443:127.0.0.1:8443");

  check.url = "https://[::1]/";
  const HttpProbe v6(check, std::chrono::seconds(5));
  EXPECT_EQ(v6.connect_to(), "assets.example:443:[::1]:443");

  check.tls->server_name.clear();
  const HttpProbe unnamed(check, std::chrono::seconds(5));
  EXPECT_EQ(unnamed.request_url(), "https://[::1]/");
  EXPECT_EQ(unnamed.connect_to(), "");
}

TEST(HealthRulesTest, SanitizeMasksSecretsAndFoldsLines) {
  const std::string_view secrets[] = {"hunter2", ""};
  EXPECT_EQ(sanitize_detail("login as bob:hunter2 failed\n\tretry hunter2", secrets),
            "login as bob:<secret> failed retry <secret>");
  EXPECT_EQ(sanitize_detail("a\x01" "b  \r\n", {}), "ab");
  const std::string long_text(1000, 'x');
  EXPECT_LE(sanitize_detail(long_text, {}).size(), kMaxDetailLength);
}

TEST(HealthRulesTest, SplitHostPort) {
  const auto plain = split_host_port("redis.internal:6379");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->host, "redis.internal");
  EXPECT_EQ(plain->port, "6379");
  const auto v6 = split_host_port("[::1]:5432");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(split_host_port("::1:5432"));
  EXPECT_FALSE(split_host_port("no-port"));
  EXPECT_FALSE(split_host_port(":80"));
  EXPECT_FALSE(split_host_port("host:"));
}

TEST(HealthRulesTest, PostgresErrorsMapToBoundedReasons) {
  EXPECT_EQ(classify_postgres_error("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28P01: "
                                    "password authentication failed for user \"monitor\""),
            "auth");
  EXPECT_EQ(classify_postgres_error("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28000: "
                                    "role \"x\" does not exist"),
            "auth");
  EXPECT_EQ(classify_postgres_error("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  3D000: "
                                    "database \"x\" does not exist"),
            "other");
  EXPECT_EQ(classify_postgres_error("ERROR:  42501: permission denied for function pg_database_size"), "auth");
  EXPECT_EQ(classify_postgres_error("ERROR:  57014: canceling statement due to statement timeout"), "timeout");
  EXPECT_EQ(classify_postgres_error("connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs "
                                    "the server running on that host and accepting TCP/IP connections?"),
            "refused");
  EXPECT_EQ(classify_postgres_error("connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: No "
                                    "such file or directory"),
            "refused");
  EXPECT_EQ(classify_postgres_error("could not translate host name \"db\" to address: Name or service not known"),
            "dns");
  EXPECT_EQ(classify_postgres_error("connection to server at \"127.0.0.1\", port 5432 failed: fe_sendauth: no "
                                    "password supplied"),
            "auth");
  EXPECT_EQ(classify_postgres_error("connection to server at \"127.0.0.1\", port 5432 failed: server does not "
                                    "support SSL, but SSL was required"),
            "tls");
  EXPECT_EQ(classify_postgres_error("connection to server at \"127.0.0.1\", port 5432 failed: timeout expired"),
            "timeout");
  EXPECT_EQ(classify_postgres_error("server closed the connection unexpectedly"), "other");
}

TEST(HealthRulesTest, PostgresTextArrayQuotes) {
  EXPECT_EQ(postgres_text_array({}), "{}");
  EXPECT_EQ(postgres_text_array({"app", "we\"ird\\name", "a,b"}), R"({"app","we\"ird\\name","a,b"})");
}

TEST(HealthRulesTest, PostgresParametersNeverHoldThePassword) {
  PostgresCheck check;
  check.password = Secret("s3cret");
  std::string error;
  const auto fields = connection_parameters(check, std::chrono::milliseconds(2500), error);
  ASSERT_TRUE(fields) << error;
  const std::map<std::string, std::string> map(fields->begin(), fields->end());
  EXPECT_EQ(map.at("host"), "127.0.0.1");
  EXPECT_EQ(map.at("port"), "5432");
  EXPECT_EQ(map.at("user"), "postgres");
  EXPECT_EQ(map.at("dbname"), "postgres");
  EXPECT_EQ(map.at("sslmode"), "prefer");
  EXPECT_EQ(map.at("connect_timeout"), "3");
  EXPECT_EQ(map.at("options"), "-c statement_timeout=2500");
  EXPECT_EQ(map.count("password"), 0u);

  check.dsn = "postgresql://monitor@db.internal:6432/app?sslmode=verify-full&options=-c%20search_path%3Dx";
  const auto from_uri = connection_parameters(check, std::chrono::seconds(10), error);
  ASSERT_TRUE(from_uri) << error;
  const std::map<std::string, std::string> uri(from_uri->begin(), from_uri->end());
  EXPECT_EQ(uri.at("host"), "db.internal");
  EXPECT_EQ(uri.at("port"), "6432");
  EXPECT_EQ(uri.at("user"), "monitor");
  EXPECT_EQ(uri.at("sslmode"), "verify-full");
  EXPECT_EQ(uri.at("options"), "-c search_path=x -c statement_timeout=10000");

  check.dsn = "host=db port";
  EXPECT_FALSE(connection_parameters(check, std::chrono::seconds(10), error));
  EXPECT_NE(error.find("invalid dsn"), std::string::npos);
}

// Defect 2: the probe's constructor wrote the parse error into a member that was not yet
// constructed, and `check` crashed on every run of such a check.
TEST(HealthRulesTest, UnparsableDsnIsAFailingTargetNotACrash) {
  PostgresCheck check;
  check.dsn = "host=127.0.0.1 bogus=1";
  PostgresProbe probe(check, std::chrono::seconds(1));
  const auto result = probe.run(Clock::now() + std::chrono::seconds(1), {});
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->up);
  EXPECT_EQ(result->reason, "other");
  EXPECT_NE(result->detail.find("invalid dsn"), std::string::npos) << result->detail;
}

// Issue 14: the collector's whole output for checks whose targets refuse, checked in
// (durations zeroed: they are measured).
TEST(HealthRulesTest, GoldenExposition) {
  const std::string closed = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  auto spec = testing::configured_collector("health", "global:\n  interval: 30s\n  timeout: 2s\nhealth:\n"
                                                     "  - {name: api, kind: http, url: \"http://" + closed + "/healthz\"}\n"
                                                     "  - {name: redis, kind: tcp, address: \"" + closed + "\", timeout: 1s}\n");
  ASSERT_TRUE(spec);
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + spec->timeout;
  testing::expect_golden_exposition(
      spec->collector->run(context), "health",
      {.timing_families = {"assets_check_duration_seconds", "assets_check_phase_duration_seconds"},
       .replacements = {}});
}

TEST(HealthRulesTest, SpecUsesSmallestIntervalAndLargestTimeout) {
  const auto spec = testing::configured_collector(
      "health",
      "global:\n  interval: 30s\n  timeout: 10s\nhealth:\n"
      "  - {name: a, kind: tcp, address: \"127.0.0.1:1\", interval: 15s, timeout: 2s}\n"
      "  - {name: b, kind: tcp, address: \"127.0.0.1:2\"}\n"
      "  - {name: c, kind: tcp, address: \"127.0.0.1:3\", interval: 1m, timeout: 20s}\n");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->interval, std::chrono::seconds(15));
  // The longest check timeout plus a second for the run itself.
  EXPECT_EQ(spec->timeout, std::chrono::seconds(21));

  EXPECT_FALSE(testing::configured_collector("health", "global:\n  interval: 30s\n"));
}

}  // namespace
}  // namespace assets::health
