// libFuzzer target: the host facts file is written by another program (the root-run
// helper, or whoever can write its folder); the agent parses whatever it finds there.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/host/facts.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string error;
  (void)assets::parse_host_facts(std::string_view(reinterpret_cast<const char*>(data), size), error);
  return 0;
}
