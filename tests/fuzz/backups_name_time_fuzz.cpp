// libFuzzer target: name_time patterns come from the configuration and file names from
// any directory. The input is a pattern, a newline and a file name; compiling must give a
// pattern or a reason, and matching any name must give a time or nothing, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/backups/name_time.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view pattern = input.substr(0, newline);
  const std::string_view file_name = newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
  std::string error;
  const auto compiled = assets::backups::NameTimePattern::compile(pattern, error);
  if (!compiled) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  compiled->parse(file_name);
  return 0;
}
