// The pure parts of the certificates collector: PEM/DER bytes to records, globs, addresses.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "collectors/certificates/glob.h"
#include "agent/utf8.h"
#include "collectors/certificates/parse.h"
#include "collectors/certificates/probe.h"
#include "tests/support/cert_factory.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;
using testing::Certificate;
using testing::CertificateSpec;
using testing::KeyAlgorithm;
using testing::PrivateKey;
using testing::from_now;
using testing::to_unix_seconds;

std::string fixture(const std::string& name) {
  std::ifstream in(testing::source_dir() / "tests/testdata/certificates" / name, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

CertificateSpec spec_named(const std::string& name) {
  CertificateSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  spec.key = PrivateKey::shared(KeyAlgorithm::ecdsa_p256);
  return spec;
}

// Made with `openssl req -x509 -set_serial 0x1234ABCD -subj "/C=CH/O=Assets Fixtures/CN=fixture.assets.test"`.
void expect_fixture_fields(const CertificateRecord& record) {
  EXPECT_EQ(record.chain_index, 0);
  EXPECT_EQ(record.subject, "CN=fixture.assets.test,O=Assets Fixtures,C=CH");
  EXPECT_EQ(record.issuer, "CN=fixture.assets.test,O=Assets Fixtures,C=CH");
  EXPECT_EQ(record.subject_cn, "fixture.assets.test");
  EXPECT_EQ(record.issuer_cn, "fixture.assets.test");
  EXPECT_EQ(record.serial, "1234ABCD");
  EXPECT_EQ(record.not_before, 1795916079.0);  // Nov 29 01:34:39 2026 GMT
  EXPECT_EQ(record.not_after, 2111276079.0);   // Nov 26 01:34:39 2036 GMT
  EXPECT_EQ(record.dns_names, (std::vector<std::string>{"fixture.assets.test", "www.fixture.assets.test"}));
  EXPECT_EQ(record.key_type, "ECDSA-P-384");
}

TEST(CertificatesParse, PemFixture) {
  const ParsedCertificates parsed = parse_certificates(fixture("fixture-ecdsa-p384.pem"));
  EXPECT_EQ(parsed.failure, CertFailure::none) << parsed.detail;
  ASSERT_EQ(parsed.certificates.size(), 1u);
  expect_fixture_fields(parsed.certificates[0]);
}

TEST(CertificatesParse, DerFixture) {
  const ParsedCertificates parsed = parse_certificates(fixture("fixture-ecdsa-p384.der"));
  EXPECT_EQ(parsed.failure, CertFailure::none) << parsed.detail;
  ASSERT_EQ(parsed.certificates.size(), 1u);
  expect_fixture_fields(parsed.certificates[0]);
}

TEST(CertificatesParse, TextAroundPemBlocksIsIgnored) {
  // As `openssl pkcs12 -nokeys` and `openssl x509 -text` write them.
  const std::string text = "Bag Attributes\n    friendlyName: x\nsubject=CN = fixture\n" +
                           fixture("fixture-ecdsa-p384.pem") + "trailing words\n";
  const ParsedCertificates parsed = parse_certificates(text);
  EXPECT_EQ(parsed.failure, CertFailure::none) << parsed.detail;
  ASSERT_EQ(parsed.certificates.size(), 1u);
  EXPECT_EQ(parsed.certificates[0].serial, "1234ABCD");
}

TEST(CertificatesParse, ValidityWindowsInThePastAndFuture) {
  CertificateSpec expired = spec_named("expired.test");
  expired.not_before = from_now(-std::chrono::days(400));
  expired.not_after = from_now(-std::chrono::days(35));
  CertificateSpec future = spec_named("future.test");
  future.not_before = from_now(std::chrono::days(10));
  future.not_after = from_now(std::chrono::days(3000));  // past 2034: GeneralizedTime from 2050 on is fine too
  const Certificate a = Certificate::make(expired);
  const Certificate b = Certificate::make(future);
  const ParsedCertificates parsed = parse_certificates(a.pem() + b.pem());
  ASSERT_EQ(parsed.certificates.size(), 2u);
  EXPECT_EQ(parsed.certificates[0].not_before, to_unix_seconds(expired.not_before));
  EXPECT_EQ(parsed.certificates[0].not_after, to_unix_seconds(expired.not_after));
  EXPECT_EQ(parsed.certificates[1].not_before, to_unix_seconds(future.not_before));
  EXPECT_EQ(parsed.certificates[1].not_after, to_unix_seconds(future.not_after));
}

TEST(CertificatesParse, DatesBeyond2050UseGeneralizedTime) {
  CertificateSpec spec = spec_named("far.test");
  spec.not_after = testing::TimePoint(std::chrono::seconds(3'000'000'000));  // 2065
  const ParsedCertificates parsed = parse_certificates(Certificate::make(spec).pem());
  ASSERT_EQ(parsed.certificates.size(), 1u);
  EXPECT_EQ(parsed.certificates[0].not_after, 3'000'000'000.0);
}

TEST(CertificatesParse, BundleKeepsFileOrderAsChainIndex) {
  const auto chain = testing::make_chain(spec_named("leaf.test"));
  const ParsedCertificates parsed = parse_certificates(chain.full_chain_pem() + chain.root.pem());
  EXPECT_EQ(parsed.failure, CertFailure::none) << parsed.detail;
  ASSERT_EQ(parsed.certificates.size(), 3u);
  EXPECT_EQ(parsed.certificates[0].subject_cn, "leaf.test");
  EXPECT_EQ(parsed.certificates[0].issuer_cn, "Assets Test Intermediate CA");
  EXPECT_EQ(parsed.certificates[1].subject_cn, "Assets Test Intermediate CA");
  EXPECT_EQ(parsed.certificates[1].issuer_cn, "Assets Test Root CA");
  EXPECT_EQ(parsed.certificates[2].subject_cn, "Assets Test Root CA");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(parsed.certificates[static_cast<std::size_t>(i)].chain_index, i);
  EXPECT_EQ(parsed.certificates[0].serial, chain.leaf.serial_hex());
}

TEST(CertificatesParse, KeyTypes) {
  for (const auto& [algorithm, expected] : std::vector<std::pair<KeyAlgorithm, std::string>>{
           {KeyAlgorithm::rsa2048, "RSA-2048"}, {KeyAlgorithm::ecdsa_p256, "ECDSA-P-256"}, {KeyAlgorithm::ed25519, "Ed25519"}}) {
    CertificateSpec spec = spec_named("key.test");
    spec.key = PrivateKey::shared(algorithm);
    const ParsedCertificates parsed = parse_certificates(Certificate::make(spec).der());
    ASSERT_EQ(parsed.certificates.size(), 1u) << expected;
    EXPECT_EQ(parsed.certificates[0].key_type, expected);
  }
}

TEST(CertificatesParse, PrivateKeysInABundleAreSkipped) {
  const Certificate certificate = Certificate::make(spec_named("bundle.test"));
  for (const std::string& bundle : {certificate.key().pem() + certificate.pem(), certificate.pem() + certificate.key().pem()}) {
    const ParsedCertificates parsed = parse_certificates(bundle);
    EXPECT_EQ(parsed.failure, CertFailure::none) << parsed.detail;
    ASSERT_EQ(parsed.certificates.size(), 1u);
    EXPECT_EQ(parsed.certificates[0].subject_cn, "bundle.test");
  }
}

TEST(CertificatesParse, AKeyAloneIsNotACertificate) {
  const ParsedCertificates parsed = parse_certificates(PrivateKey::shared(KeyAlgorithm::ecdsa_p256).pem());
  EXPECT_EQ(parsed.failure, CertFailure::bad_pem);
  EXPECT_TRUE(parsed.certificates.empty());
  EXPECT_EQ(parsed.detail.find("MII"), std::string::npos) << "details never quote the data";
}

TEST(CertificatesParse, EmptyAndWhitespaceAreEmpty) {
  EXPECT_EQ(parse_certificates("").failure, CertFailure::empty);
  EXPECT_EQ(parse_certificates(" \n\r\n\t").failure, CertFailure::empty);
}

TEST(CertificatesParse, GarbageTextIsBadPemAndGarbageBinaryIsBadDer) {
  EXPECT_EQ(parse_certificates("this is not a certificate\n").failure, CertFailure::bad_pem);
  EXPECT_EQ(parse_certificates(std::string("\x01\x02\xff\x00garbage", 11)).failure, CertFailure::bad_der);
  // Starts like a DER SEQUENCE but is not one.
  EXPECT_EQ(parse_certificates(std::string("\x30\x82\x01\x00\x01\x02", 6)).failure, CertFailure::bad_der);
}

TEST(CertificatesParse, TruncatedPemKeepsTheCertificatesBeforeIt) {
  const auto chain = testing::make_chain(spec_named("truncated.test"));
  const std::string intermediate = chain.intermediate.pem();
  const std::string cut = chain.leaf.pem() + intermediate.substr(0, intermediate.size() / 2);
  const ParsedCertificates parsed = parse_certificates(cut);
  EXPECT_EQ(parsed.failure, CertFailure::bad_pem);
  EXPECT_NE(parsed.detail.find("certificate 1"), std::string::npos) << parsed.detail;
  ASSERT_EQ(parsed.certificates.size(), 1u);
  EXPECT_EQ(parsed.certificates[0].subject_cn, "truncated.test");
}

TEST(CertificatesParse, TruncatedBlockBeforeAGoodOneDoesNotHideIt) {
  const auto chain = testing::make_chain(spec_named("second.test"));
  const std::string first = chain.root.pem();
  const ParsedCertificates parsed = parse_certificates(first.substr(0, first.size() / 2) + chain.leaf.pem());
  EXPECT_EQ(parsed.failure, CertFailure::bad_pem);
  ASSERT_EQ(parsed.certificates.size(), 1u);
  EXPECT_EQ(parsed.certificates[0].chain_index, 1);
  EXPECT_EQ(parsed.certificates[0].subject_cn, "second.test");
}

TEST(CertificatesParse, CorruptBase64IsBadPem) {
  std::string pem = Certificate::make(spec_named("corrupt.test")).pem();
  pem[100] = '!';
  EXPECT_EQ(parse_certificates(pem).failure, CertFailure::bad_pem);
  // Valid base64 around a DER structure whose outer length lies.
  std::string der = Certificate::make(spec_named("corrupt.test")).der();
  der[2] = static_cast<char>(der[2] + 1);
  std::string base64(4 * ((der.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()),
                                     reinterpret_cast<const unsigned char*>(der.data()), static_cast<int>(der.size()));
  base64.resize(static_cast<std::size_t>(length));
  EXPECT_EQ(parse_certificates("-----BEGIN CERTIFICATE-----\n" + base64 + "\n-----END CERTIFICATE-----\n").failure,
            CertFailure::bad_pem);
}

TEST(CertificatesParse, TruncatedAndConcatenatedDer) {
  const std::string a = Certificate::make(spec_named("a.test")).der();
  const std::string b = Certificate::make(spec_named("b.test")).der();
  const ParsedCertificates both = parse_certificates(a + b);
  EXPECT_EQ(both.failure, CertFailure::none) << both.detail;
  ASSERT_EQ(both.certificates.size(), 2u);
  EXPECT_EQ(both.certificates[1].subject_cn, "b.test");
  const ParsedCertificates cut = parse_certificates(a.substr(0, a.size() - 10));
  EXPECT_EQ(cut.failure, CertFailure::bad_der);
  EXPECT_TRUE(cut.certificates.empty());
}

TEST(CertificatesParse, Utf8NamesStayUtf8) {
  CertificateSpec spec = spec_named("Zürich Łódź");
  spec.organization = "Müller AG";
  const ParsedCertificates parsed = parse_certificates(Certificate::make(spec).pem());
  ASSERT_EQ(parsed.certificates.size(), 1u);
  EXPECT_EQ(parsed.certificates[0].subject_cn, "Zürich Łódź");
  EXPECT_EQ(parsed.certificates[0].subject, "CN=Zürich Łódź,O=Müller AG");
}

TEST(CertificatesParse, ValidUtf8ReplacesOnlyBrokenBytes) {
  EXPECT_EQ(valid_utf8("/etc/ssl/zürich.pem"), "/etc/ssl/zürich.pem");
  EXPECT_EQ(valid_utf8("/etc/ssl/z\xfcrich.pem"), "/etc/ssl/z?rich.pem");  // Latin-1
  EXPECT_EQ(valid_utf8("cut \xc3"), "cut ?");
  EXPECT_EQ(valid_utf8("\xed\xa0\x80x"), "???x");  // an encoded UTF-16 surrogate
  EXPECT_EQ(valid_utf8("\xe0\x80\xafx"), "???x");  // an overlong '/'
  EXPECT_EQ(valid_utf8("\xf0\x9f\x94\x92"), "\xf0\x9f\x94\x92");  // a 4-byte character
}

TEST(CertificatesParse, NoCommonNameGivesAnEmptyOne) {
  CertificateSpec spec = spec_named("");
  spec.organization = "Only Org";
  spec.dns_names = {"san-only.test"};
  const ParsedCertificates parsed = parse_certificates(Certificate::make(spec).pem());
  ASSERT_EQ(parsed.certificates.size(), 1u);
  EXPECT_EQ(parsed.certificates[0].subject_cn, "");
  EXPECT_EQ(parsed.certificates[0].subject, "O=Only Org");
  EXPECT_EQ(parsed.certificates[0].dns_names, std::vector<std::string>{"san-only.test"});
}

TEST(CertificatesParse, MemoGivesTheSameRecordsAndKeepsOnlySharedCertificates) {
  const auto chain = testing::make_chain(spec_named("memo-a.test"));
  const Certificate other_leaf = Certificate::make(spec_named("memo-b.test"), &chain.intermediate);
  CertificateMemo memo(1);
  const ParsedCertificates first = parse_certificates(chain.full_chain_pem(), &memo);
  EXPECT_EQ(memo.size(), 1u) << "the intermediate, not the leaf";
  const ParsedCertificates second = parse_certificates(other_leaf.pem() + chain.intermediate.pem(), &memo);
  const ParsedCertificates plain = parse_certificates(other_leaf.pem() + chain.intermediate.pem());
  ASSERT_EQ(second.certificates.size(), 2u);
  ASSERT_EQ(plain.certificates.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(second.certificates[i].chain_index, plain.certificates[i].chain_index);
    EXPECT_EQ(second.certificates[i].subject, plain.certificates[i].subject);
    EXPECT_EQ(second.certificates[i].serial, plain.certificates[i].serial);
    EXPECT_EQ(second.certificates[i].not_after, plain.certificates[i].not_after);
    EXPECT_EQ(second.certificates[i].key_type, plain.certificates[i].key_type);
  }
  EXPECT_EQ(second.certificates[0].subject_cn, "memo-b.test");
  // Full at one entry: a third certificate is decoded but not kept.
  parse_certificates(chain.leaf.pem() + chain.root.pem(), &memo);
  EXPECT_EQ(memo.size(), 1u);
  EXPECT_EQ(first.certificates[1].subject_cn, "Assets Test Intermediate CA");
}

TEST(CertificatesGlob, SegmentWildcards) {
  EXPECT_TRUE(glob_match("/etc/letsencrypt/live/*/fullchain.pem", "/etc/letsencrypt/live/a.test/fullchain.pem"));
  EXPECT_FALSE(glob_match("/etc/letsencrypt/live/*/fullchain.pem", "/etc/letsencrypt/live/a/b/fullchain.pem"));
  EXPECT_FALSE(glob_match("/etc/letsencrypt/live/*/fullchain.pem", "/etc/letsencrypt/live/fullchain.pem"));
  EXPECT_TRUE(glob_match("/certs/cert?.pem", "/certs/cert1.pem"));
  EXPECT_FALSE(glob_match("/certs/cert?.pem", "/certs/cert10.pem"));
  EXPECT_TRUE(glob_match("/certs/[ab]*.crt", "/certs/b-site.crt"));
  EXPECT_FALSE(glob_match("/certs/[ab]*.crt", "/certs/c-site.crt"));
  EXPECT_TRUE(glob_match("/certs/*.pem", "/certs/.hidden.pem"));
}

TEST(CertificatesGlob, DoubleStarMatchesAnyNumberOfSegments) {
  EXPECT_TRUE(glob_match("/srv/**/*.pem", "/srv/a.pem"));
  EXPECT_TRUE(glob_match("/srv/**/*.pem", "/srv/x/a.pem"));
  EXPECT_TRUE(glob_match("/srv/**/*.pem", "/srv/x/y/z/a.pem"));
  EXPECT_FALSE(glob_match("/srv/**/*.pem", "/other/x/a.pem"));
  EXPECT_TRUE(glob_match("**/README", "/etc/letsencrypt/live/README"));
  EXPECT_TRUE(glob_match("**/README", "/README"));
  EXPECT_FALSE(glob_match("**/README", "/etc/README.md"));
  EXPECT_TRUE(glob_match("/a/**", "/a/b/c"));
  EXPECT_TRUE(glob_match("/a/**/b/**/c", "/a/x/b/y/z/c"));
  EXPECT_FALSE(glob_match("/a/**/b/**/c", "/a/x/y/z/c"));
  // Many "**" still match in polynomial time.
  EXPECT_FALSE(glob_match("/**/**/**/**/**/**/**/**/x", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/y"));
}

TEST(CertificatesGlob, Metacharacters) {
  EXPECT_TRUE(has_glob_metacharacters("/a/*.pem"));
  EXPECT_TRUE(has_glob_metacharacters("/a/[x].pem"));
  EXPECT_TRUE(has_glob_metacharacters("/a/?.pem"));
  EXPECT_FALSE(has_glob_metacharacters("/etc/ssl/cert.pem"));
}

TEST(CertificatesProbe, SplitHostPort) {
  EXPECT_EQ(split_host_port("assets.app:443")->host, "assets.app");
  EXPECT_EQ(split_host_port("assets.app:443")->port, "443");
  EXPECT_EQ(split_host_port("[::1]:8443")->host, "::1");
  EXPECT_EQ(split_host_port("[::1]:8443")->port, "8443");
  EXPECT_EQ(split_host_port("127.0.0.1:1")->host, "127.0.0.1");
  EXPECT_FALSE(split_host_port("assets.app"));
  EXPECT_FALSE(split_host_port("assets.app:"));
  EXPECT_FALSE(split_host_port(":443"));
  EXPECT_FALSE(split_host_port("[::1]443"));
  EXPECT_FALSE(split_host_port("host:https"));
}

TEST(VerifyFailure, EachOpenSslResultHasItsBoundedReason) {
  EXPECT_EQ(classify_verify_result(X509_V_OK, false), VerifyFailure::none);
  EXPECT_EQ(classify_verify_result(X509_V_ERR_CERT_HAS_EXPIRED, false), VerifyFailure::expired);
  EXPECT_EQ(classify_verify_result(X509_V_ERR_CERT_NOT_YET_VALID, false), VerifyFailure::not_yet_valid);
  EXPECT_EQ(classify_verify_result(X509_V_ERR_HOSTNAME_MISMATCH, false), VerifyFailure::hostname_mismatch);
  EXPECT_EQ(classify_verify_result(X509_V_ERR_IP_ADDRESS_MISMATCH, false), VerifyFailure::hostname_mismatch);
  EXPECT_EQ(classify_verify_result(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, false), VerifyFailure::self_signed);
  EXPECT_EQ(classify_verify_result(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, true), VerifyFailure::unknown_ca);
  // An issuer not found: the served chain's last certificate tells a CA the store lacks
  // from intermediates the server left out.
  for (const long result : {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE}) {
    EXPECT_EQ(classify_verify_result(result, true), VerifyFailure::unknown_ca) << result;
    EXPECT_EQ(classify_verify_result(result, false), VerifyFailure::incomplete_chain) << result;
  }
  EXPECT_EQ(classify_verify_result(X509_V_ERR_CERT_REVOKED, false), VerifyFailure::other);
  EXPECT_EQ(classify_verify_result(X509_V_ERR_CERT_SIGNATURE_FAILURE, false), VerifyFailure::other);
  for (const VerifyFailure failure : {VerifyFailure::expired, VerifyFailure::not_yet_valid, VerifyFailure::hostname_mismatch,
                                      VerifyFailure::self_signed, VerifyFailure::unknown_ca,
                                      VerifyFailure::incomplete_chain}) {
    const std::string_view name = to_string(failure);
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos) << name;
    EXPECT_NE(name, "other") << "each reason but other has its own name";
  }
}

}  // namespace
}  // namespace assets
