// libFuzzer target: a dns check reads whatever the server (or anything spoofing it) sends:
// the message through libresolv, every record's text, the CAA formatter, the rules.
#include <arpa/nameser.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/health/dns.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  assets::DnsCheck check;
  check.valid_rcodes = {0, 3};
  check.answer.fail_if_none_matches = {"IN (A|CAA) "};
  check.additional.fail_if_matches = {"^$"};
  (void)assets::health::evaluate_dns_answer(message, check);
  for (const int section : {ns_s_an, ns_s_ns, ns_s_ar}) (void)assets::health::dns_section_records(message, section);
  return 0;
}
