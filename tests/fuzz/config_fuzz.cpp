// libFuzzer target: any bytes as a configuration file must give a Config or errors, never
// a crash, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const assets::ConfigResult result = assets::parse_config(yaml, "fuzz.yml");
  if (!result.config && result.errors.empty()) __builtin_trap();
  for (const auto& error : result.errors) {
    if (error.to_string().empty()) __builtin_trap();
  }
  return 0;
}
