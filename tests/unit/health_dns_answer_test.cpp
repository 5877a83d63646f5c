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
  }
  EXPECT_EQ(evaluate_dns_answer("", check).failure_reason, "protocol");
}

}  // namespace
}  // namespace assets::health
