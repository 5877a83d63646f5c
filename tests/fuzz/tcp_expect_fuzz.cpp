// libFuzzer target: a TCP check's `expect` is matched against whatever the peer sends, in
// the pieces the network delivers. The input is a pattern (up to the first newline) and the
// answer, cut into pieces by its own bytes. Matching only when due may stop at an earlier
// prefix than matching after every piece would, but it must match what it saw, and it must
// never miss a match of the whole answer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <re2/re2.h>

#include "collectors/health/tcp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const re2::RE2 expect(re2::StringPiece(input.data(), newline), re2::RE2::Quiet);
  if (!expect.ok()) return 0;
  const std::string_view full_answer = input.substr(newline + 1);
  std::string_view answer = full_answer;

  assets::health::ExpectMatcher matcher(expect);
  bool matched = matcher.matched(true);
  while (!matched && !answer.empty()) {
    // The first byte of each piece sets its length, so the fuzzer explores the cuts too.
    const std::size_t length = 1 + static_cast<unsigned char>(answer.front()) % 64;
    const std::string_view piece = answer.substr(0, length);
    answer.remove_prefix(piece.size());
    matcher.append(piece);
    matched = matcher.matched(false);
  }
  if (!matched) matched = matcher.matched(true);  // the peer closed: the last attempt
  const std::string_view seen = full_answer.substr(0, matcher.size());
  if (matched != re2::RE2::PartialMatch(seen, expect)) __builtin_trap();
  if (!matched && re2::RE2::PartialMatch(full_answer, expect)) __builtin_trap();
  return 0;
}
