// libFuzzer target: the Accept-Encoding header is sent by any client that reaches
// /metrics; deciding whether to gzip the response must take any value without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/web_server.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  assets::accepts_gzip(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
