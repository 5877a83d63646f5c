// The dns check's reading of answers, on messages built byte by byte (the same files seed
// the dns_answer fuzzer): record texts, rcodes, section counts, the CAA format.
#include <arpa/nameser.h>

#include <string>

#include <gtest/gtest.h>

#include "collectors/health/dns.h"
#include "tests/support/test_support.h"

namespace assets::health {
namespace {

std::string fixture(const std::string& name) {
  return testing::read_file(testing::source_dir() / "tests/testdata/fuzz/dns_answer" / (name + ".bin"));
}

TEST(DnsAnswer, RecordTextsHaveSecondsAndSingleSpaces) {
  const auto records = dns_section_records(fixture("a"), ns_s_an);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->at(0), "assets.test. 300 IN A 203.0.113.10");
  const auto mx = dns_section_records(fixture("mx"), ns_s_an);
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->at(0), "assets.test. 300 IN MX 10 mail.assets.test.");
  const auto glue = dns_section_records(fixture("mx"), ns_s_ar);
  ASSERT_TRUE(glue);
  EXPECT_EQ(glue->at(0), "mail.assets.test. 300 IN A 203.0.113.25");
}

// Bytes of a hex string: a message built by hand.
std::string bytes(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

TEST(DnsAnswer, SoaAndUnknownTypesReadOnOneLine) {
  const auto authority = dns_section_records(fixture("nxdomain"), ns_s_ns);
  ASSERT_TRUE(authority);
  EXPECT_EQ(authority->at(0), "assets.test. 60 IN SOA ns.assets.test. hostmaster.assets.test. 1 2 3 4 5");
  // One answer of type 65 (HTTPS) at the root, with 3 bytes of data: RFC 3597's form.
  const std::string message = bytes("123481800000000100000000" "00" "0041" "0001" "00000e10" "0003" "000100");
  const auto records = dns_section_records(message, ns_s_an);
  ASSERT_TRUE(records);
  EXPECT_EQ(records->at(0), ". 3600 IN TYPE65 \\# 3 000100");
}

TEST(DnsAnswer, ControlBytesInRecordsAreEscaped) {
  // A TXT record holding ESC, CR and a newline, and a CAA value holding a newline.
  const std::string txt = bytes("123481800000000100000000" "01" "74" "00" "0010" "0001" "0000003c" "0006" "05" "611b0d0a62");
  const auto records = dns_section_records(txt, ns_s_an);
  ASSERT_TRUE(records);
  for (const char c : records->at(0)) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << records->at(0);
  const std::string caa = bytes("123481800000000100000000" "01" "74" "00" "0101" "0001" "0000003c" "0009" "0005" "6973737565" "0a61");
  const auto caa_records = dns_section_records(caa, ns_s_an);
  ASSERT_TRUE(caa_records);
  EXPECT_EQ(caa_records->at(0), "t. 60 IN CAA 0 issue \"\\010a\"");
}

TEST(DnsAnswer, CaaIsPrintedAsDigPrintsIt) {
  const auto records = dns_section_records(fixture("caa"), ns_s_an);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ(records->at(0), "assets.test. 3600 IN CAA 0 issue \"letsencrypt.org\"");
  EXPECT_EQ(records->at(1), "assets.test. 3600 IN CAA 128 issuewild \"\\\";\\\\\"");
}

TEST(DnsAnswer, RcodesCountsAndRules) {
  DnsCheck check;
  const DnsVerdict nxdomain = evaluate_dns_answer(fixture("nxdomain"), check);
  EXPECT_EQ(nxdomain.failure_reason, "status");
  EXPECT_EQ(nxdomain.detail, "rcode NXDOMAIN is not one of valid_rcodes");
  EXPECT_EQ(nxdomain.facts.rcode, 3);
  EXPECT_EQ(nxdomain.facts.authority_records, 1u);
  check.valid_rcodes = {3};
  check.authority.fail_if_none_matches = {"IN SOA ns\\.assets\\.test\\. hostmaster"};
  EXPECT_EQ(evaluate_dns_answer(fixture("nxdomain"), check).failure_reason, "") << evaluate_dns_answer(fixture("nxdomain"), check).detail;

  DnsCheck mx;
  mx.additional.fail_if_matches = {"203\\.0\\.113\\.25"};
  const DnsVerdict broken = evaluate_dns_answer(fixture("mx"), mx);
  EXPECT_EQ(broken.failure_reason, "body");
  EXPECT_EQ(broken.detail,
            "additional records match fail_if_matches_regexp 203\\.0\\.113\\.25 (records: mail.assets.test. 300 IN A "
            "203.0.113.25)");
  EXPECT_EQ(broken.facts.answer_records, 1u);
  EXPECT_EQ(broken.facts.additional_records, 1u);
}

TEST(DnsAnswer, TruncatedAndGarbageMessagesAreProtocolFailures) {
  const std::string whole = fixture("caa");
  DnsCheck check;
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    const DnsVerdict verdict = evaluate_dns_answer(whole.substr(0, cut), check);
    EXPECT_EQ(verdict.failure_reason, "protocol") << "cut at " << cut;
    EXPECT_FALSE(verdict.parsed && verdict.failure_reason.empty());
  }
  EXPECT_FALSE(evaluate_dns_answer("garbage", check).parsed) << "no rcode for what did not parse";
  EXPECT_EQ(evaluate_dns_answer("", check).failure_reason, "protocol");
}

}  // namespace
}  // namespace assets::health
