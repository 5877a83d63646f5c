// The certificates collector over files: the metrics it returns, per the contract.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "tests/support/cert_factory.h"
#include "tests/support/golden.h"
#include "tests/support/test_support.h"
#include "tests/unit/certificates_test_util.h"

namespace assets {
namespace {

namespace fs = std::filesystem;
using testing::Certificate;
using testing::CertificatesRun;
using testing::CertificateSpec;
using testing::KeyAlgorithm;
using testing::PrivateKey;
using testing::TempDir;
using testing::from_now;
using testing::to_unix_seconds;
using testing::write_file;

CertificateSpec spec(const std::string& name, std::chrono::seconds from, std::chrono::seconds to,
                     KeyAlgorithm algorithm = KeyAlgorithm::ecdsa_p256) {
  CertificateSpec result;
  result.common_name = name;
  result.dns_names = {name, "www." + name};
  result.not_before = from_now(from);
  result.not_after = from_now(to);
  result.key = PrivateKey::shared(algorithm);
  return result;
}

constexpr std::chrono::seconds kDay = std::chrono::hours(24);

std::string config_for(const fs::path& dir, const std::string& extra = "") {
  return "certificates:\n"
         "  files: [\"" + (dir / "*.pem").string() + "\", \"" + (dir / "**/*.der").string() + "\", \"" +
         (dir / "none/*.crt").string() + "\"]\n"
         "  exclude: [\"**/excluded.pem\"]\n" + extra;
}

Labels target(const fs::path& path) { return {{"target", path.string()}, {"source", "file"}}; }

Labels with(Labels labels, const Labels& more) {
  labels.insert(labels.end(), more.begin(), more.end());
  return labels;
}

class CertificatesCollectorFiles : public ::testing::Test {
 protected:
  TempDir dir;
};

// Issue 14: the collector's whole output for the fixture certificates (fixed dates), a
// missing file and a pattern that matches nothing, checked in.
TEST(CertificatesCollectorGolden, GoldenExposition) {
  const fs::path fixtures = testing::source_dir() / "tests" / "testdata" / "certificates";
  CertificatesRun run("certificates:\n  files: [\"" + (fixtures / "fixture-*.pem").string() + "\", \"" +
                      (fixtures / "*.der").string() + "\", \"" + (fixtures / "missing.pem").string() + "\", \"" +
                      (fixtures / "none/*.crt").string() + "\"]\n  expiry_warning: 30d\n");
  testing::expect_golden_exposition(run.run(), "certificates",
                                    {.timing_families = {}, .replacements = {{fixtures.string(), "<testdata>"}}});
}

TEST_F(CertificatesCollectorFiles, ValidityStatesAndPolicy) {
  const CertificateSpec valid = spec("valid.test", -kDay, 60 * kDay);
  const CertificateSpec expired = spec("expired.test", -100 * kDay, -2 * kDay);
  const CertificateSpec future = spec("future.test", 3 * kDay, 90 * kDay);
  const CertificateSpec soon = spec("soon.test", -85 * kDay, 5 * kDay);
  write_file(dir / "valid.pem", Certificate::make(valid).pem());
  write_file(dir / "expired.pem", Certificate::make(expired).pem());
  write_file(dir / "future.pem", Certificate::make(future).pem());
  write_file(dir / "soon.pem", Certificate::make(soon).pem());
  write_file(dir / "excluded.pem", Certificate::make(valid).pem());
  CertificatesRun run(config_for(dir.path(), "  expiry_warning: 30d\n  expiry_critical: 10d\n"));
  run.run();

  for (const auto& [file, cert] : std::vector<std::pair<std::string, CertificateSpec>>{
           {"valid.pem", valid}, {"expired.pem", expired}, {"future.pem", future}, {"soon.pem", soon}}) {
    SCOPED_TRACE(file);
    const Labels base = target(dir / file);
    EXPECT_EQ(run.value("assets_cert_target_up", base), 1);
    const Labels cert_labels = with(base, {{"chain_index", "0"}, {"subject_cn", cert.common_name}});
    EXPECT_EQ(run.value("assets_cert_not_after_timestamp_seconds", cert_labels), to_unix_seconds(cert.not_after));
    EXPECT_EQ(run.value("assets_cert_not_before_timestamp_seconds", cert_labels), to_unix_seconds(cert.not_before));
    EXPECT_EQ(run.value("assets_cert_expired", cert_labels), file == "expired.pem" ? 1 : 0);
    EXPECT_EQ(run.value("assets_cert_expiry_warning_seconds", base), 30 * 86400);
    EXPECT_EQ(run.value("assets_cert_expiry_critical_seconds", base), 10 * 86400);
    EXPECT_TRUE(run.samples("assets_cert_target_failure", base).empty());
    // Files are not verified (as x509-certificate-exporter does not): no verified gauge.
    EXPECT_TRUE(run.samples("assets_cert_verified", base).empty());
    const auto* status = run.target((dir / file).string());
    ASSERT_NE(status, nullptr);
    EXPECT_TRUE(status->up);
    EXPECT_EQ(status->kind, "file");
  }
  EXPECT_TRUE(run.samples("assets_cert_target_up", target(dir / "excluded.pem")).empty());
  EXPECT_NE(run.target((dir / "expired.pem").string())->detail.find("expired"), std::string::npos);
  EXPECT_NE(run.target((dir / "soon.pem").string())->detail.find("expires in 4d23h"), std::string::npos)
      << run.target((dir / "soon.pem").string())->detail;
}

TEST_F(CertificatesCollectorFiles, ExactLabelSetsOfEveryFamily) {
  const auto chain = testing::make_chain(spec("chain.test", -kDay, 60 * kDay));
  write_file(dir / "fullchain.pem", chain.full_chain_pem());
  write_file(dir / "broken.pem", "garbage\n");
  CertificatesRun run(config_for(dir.path()));
  run.run();
  const std::map<std::string, std::set<std::string>> expected{
      {"assets_cert_target_up", {"target", "source"}},
      {"assets_cert_target_failure", {"target", "source", "reason"}},
      {"assets_cert_expiry_warning_seconds", {"target", "source"}},
      {"assets_cert_expiry_critical_seconds", {"target", "source"}},
      {"assets_cert_not_after_timestamp_seconds", {"target", "source", "chain_index", "subject_cn", "issuer_cn", "serial"}},
      {"assets_cert_not_before_timestamp_seconds", {"target", "source", "chain_index", "subject_cn", "issuer_cn", "serial"}},
      {"assets_cert_expired", {"target", "source", "chain_index", "subject_cn", "issuer_cn", "serial"}},
      {"assets_cert_info", {"target", "source", "chain_index", "subject", "issuer", "dns_names", "key_type"}},
  };
  std::set<std::string> seen;
  for (const auto& family : run.result().families) {
    seen.insert(family.name);
    ASSERT_TRUE(expected.contains(family.name)) << family.name;
    EXPECT_FALSE(family.help.empty());
    EXPECT_EQ(family.type, prometheus::MetricType::Gauge);
    for (const auto& metric : family.metric) {
      std::set<std::string> names;
      for (const auto& pair : metric.label) names.insert(pair.name);
      EXPECT_EQ(names, expected.at(family.name)) << family.name;
    }
  }
  EXPECT_EQ(seen.size(), expected.size());

  const Labels leaf = with(target(dir / "fullchain.pem"), {{"chain_index", "0"}});
  const auto info = run.samples("assets_cert_info", leaf);
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(CertificatesRun::label(*info[0], "subject"), "CN=chain.test");
  EXPECT_EQ(CertificatesRun::label(*info[0], "issuer"), "CN=Assets Test Intermediate CA");
  EXPECT_EQ(CertificatesRun::label(*info[0], "dns_names"), "chain.test,www.chain.test");
  EXPECT_EQ(CertificatesRun::label(*info[0], "key_type"), "ECDSA-P-256");
  const auto leaf_expiry = run.samples("assets_cert_not_after_timestamp_seconds", leaf);
  ASSERT_EQ(leaf_expiry.size(), 1u);
  EXPECT_EQ(CertificatesRun::label(*leaf_expiry[0], "issuer_cn"), "Assets Test Intermediate CA");
  EXPECT_EQ(CertificatesRun::label(*leaf_expiry[0], "serial"), chain.leaf.serial_hex());
  EXPECT_EQ(run.samples("assets_cert_info", target(dir / "fullchain.pem")).size(), 2u);
  EXPECT_EQ(run.value("assets_cert_target_failure", with(target(dir / "broken.pem"), {{"reason", "bad_pem"}})), 1);
}

TEST_F(CertificatesCollectorFiles, IntermediateExpiringBeforeTheLeafIsVisible) {
  CertificateSpec intermediate = spec("Short Intermediate", -30 * kDay, 6 * kDay);
  const auto chain = testing::make_chain(spec("leaf.test", -kDay, 80 * kDay), intermediate);
  write_file(dir / "fullchain.pem", chain.full_chain_pem());
  CertificatesRun run(config_for(dir.path()));
  run.run();
  const Labels base = target(dir / "fullchain.pem");
  EXPECT_EQ(run.value("assets_cert_not_after_timestamp_seconds", with(base, {{"chain_index", "1"}})),
            to_unix_seconds(intermediate.not_after));
  EXPECT_LT(*run.value("assets_cert_not_after_timestamp_seconds", with(base, {{"chain_index", "1"}})),
            *run.value("assets_cert_not_after_timestamp_seconds", with(base, {{"chain_index", "0"}})));
  const auto* status = run.target((dir / "fullchain.pem").string());
  ASSERT_NE(status, nullptr);
  EXPECT_NE(status->detail.find("certificate 1 (CN=Short Intermediate) expires in"), std::string::npos) << status->detail;
}

TEST_F(CertificatesCollectorFiles, KeysFormatsAndBundles) {
  const Certificate rsa = Certificate::make(spec("rsa.test", -kDay, 60 * kDay, KeyAlgorithm::rsa2048));
  const Certificate ed = Certificate::make(spec("ed.test", -kDay, 60 * kDay, KeyAlgorithm::ed25519));
  const Certificate ec = Certificate::make(spec("ec.test", -kDay, 60 * kDay));
  write_file(dir / "rsa-bundle.pem", rsa.key().pem() + rsa.pem());
  write_file(dir / "sub/dir/ed.der", ed.der());
  write_file(dir / "ec.pem", ec.pem());
  CertificatesRun run(config_for(dir.path()));
  run.run();
  for (const auto& [file, key_type] : std::vector<std::pair<fs::path, std::string>>{
           {"rsa-bundle.pem", "RSA-2048"}, {"sub/dir/ed.der", "Ed25519"}, {"ec.pem", "ECDSA-P-256"}}) {
    SCOPED_TRACE(file.string());
    EXPECT_EQ(run.value("assets_cert_target_up", target(dir / file)), 1);
    EXPECT_EQ(run.value("assets_cert_info", with(target(dir / file), {{"key_type", key_type}})), 1);
  }
}

TEST_F(CertificatesCollectorFiles, FaultsAreMetrics) {
  const auto chain = testing::make_chain(spec("cut.test", -kDay, 60 * kDay));
  const std::string full = chain.full_chain_pem();
  write_file(dir / "empty.pem", "");
  write_file(dir / "garbage.pem", "hello, world\n");
  write_file(dir / "binary.der", std::string("\x01\x02\x03\x04", 4));
  write_file(dir / "truncated.pem", full.substr(0, full.size() - 100));
  CertificatesRun run(config_for(dir.path()));
  run.run();
  for (const auto& [file, reason] : std::vector<std::pair<std::string, std::string>>{
           {"empty.pem", "empty"}, {"garbage.pem", "bad_pem"}, {"binary.der", "bad_der"}, {"truncated.pem", "bad_pem"}}) {
    SCOPED_TRACE(file);
    EXPECT_EQ(run.value("assets_cert_target_up", target(dir / file)), 0);
    EXPECT_EQ(run.samples("assets_cert_target_failure", target(dir / file)).size(), 1u);
    EXPECT_EQ(run.value("assets_cert_target_failure", with(target(dir / file), {{"reason", reason}})), 1);
    const auto* status = run.target((dir / file).string());
    ASSERT_NE(status, nullptr);
    EXPECT_FALSE(status->up);
    EXPECT_EQ(status->reason, reason);
    EXPECT_FALSE(status->detail.empty());
  }
  // The leaf before the cut is still reported.
  EXPECT_EQ(run.samples("assets_cert_not_after_timestamp_seconds", target(dir / "truncated.pem")).size(), 1u);
  // A wildcard pattern that matches nothing is a failing target named by the pattern.
  const Labels unmatched{{"target", (dir / "none/*.crt").string()}, {"source", "file"}};
  EXPECT_EQ(run.value("assets_cert_target_up", unmatched), 0);
  EXPECT_EQ(run.value("assets_cert_target_failure", with(unmatched, {{"reason", "not_found"}})), 1);
}

TEST_F(CertificatesCollectorFiles, MissingLiteralFileIsNotFound) {
  CertificatesRun run("certificates:\n  files: [\"" + (dir / "gone.pem").string() + "\"]\n");
  run.run();
  EXPECT_EQ(run.value("assets_cert_target_up", target(dir / "gone.pem")), 0);
  EXPECT_EQ(run.value("assets_cert_target_failure", with(target(dir / "gone.pem"), {{"reason", "not_found"}})), 1);
}

TEST_F(CertificatesCollectorFiles, SymlinkSwapIsPickedUpAtTheNextRun) {
  const CertificateSpec old_spec = spec("site.test", -85 * kDay, 5 * kDay);
  const CertificateSpec renewed_spec = spec("site.test", -kDay, 89 * kDay);
  write_file(dir / "archive/site.test/fullchain1.pem", Certificate::make(old_spec).pem());
  write_file(dir / "archive/site.test/fullchain2.pem", Certificate::make(renewed_spec).pem());
  const fs::path live = dir / "live/site.test/fullchain.pem";
  fs::create_directories(live.parent_path());
  fs::create_symlink("../../archive/site.test/fullchain1.pem", live);
  CertificatesRun run("certificates:\n  files: [\"" + (dir / "live/*/fullchain.pem").string() + "\"]\n");
  run.run();
  const Labels leaf = with(target(live), {{"chain_index", "0"}});
  EXPECT_EQ(run.value("assets_cert_not_after_timestamp_seconds", leaf), to_unix_seconds(old_spec.not_after));
  fs::create_symlink("../../archive/site.test/fullchain2.pem", live.string() + ".new");
  fs::rename(live.string() + ".new", live);
  run.run();
  EXPECT_EQ(run.value("assets_cert_not_after_timestamp_seconds", leaf), to_unix_seconds(renewed_spec.not_after));
}

TEST_F(CertificatesCollectorFiles, LongLabelValuesAreBounded) {
  CertificateSpec long_names = spec("long.test", -kDay, 60 * kDay);
  for (int i = 0; i < 60; ++i) long_names.dns_names.push_back("host-" + std::to_string(i) + ".long-domain-name.test");
  long_names.organization = std::string(300, 'O');
  write_file(dir / "long.pem", Certificate::make(long_names).pem());
  CertificatesRun run(config_for(dir.path()));
  run.run();
  const auto info = run.samples("assets_cert_info", target(dir / "long.pem"));
  ASSERT_EQ(info.size(), 1u);
  EXPECT_LE(CertificatesRun::label(*info[0], "dns_names").size(), kMaxLabelValueLength);
  EXPECT_LE(CertificatesRun::label(*info[0], "subject").size(), kMaxLabelValueLength);
  EXPECT_EQ(CertificatesRun::label(*info[0], "dns_names").substr(0, 22), "long.test,www.long.tes");
}

TEST(CertificatesCollectorFactory, DisabledWithoutTheSectionAndUsesTheSectionTimes) {
  EXPECT_FALSE(testing::configured_collector("certificates", "global:\n  interval: 30s\n"));
  const auto spec = testing::configured_collector(
      "certificates", "certificates:\n  interval: 5m\n  timeout: 20s\n  files: [/nonexistent/*.pem]\n");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->interval, std::chrono::minutes(5));
  EXPECT_EQ(spec->timeout, std::chrono::seconds(20));
  EXPECT_FALSE(testing::configured_collector("certificates", "certificates:\n  enabled: false\n"));
}

}  // namespace
}  // namespace assets
