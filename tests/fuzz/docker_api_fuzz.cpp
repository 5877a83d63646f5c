// libFuzzer target: engine responses are untrusted input; every parser must reject or
// accept them without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/containers/api.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  assets::containers::parse_version(body);
  assets::containers::parse_container_list(body);
  assets::containers::parse_inspect(body);
  assets::containers::parse_events(body);
  assets::containers::parse_timestamp(body);
  return 0;
}
