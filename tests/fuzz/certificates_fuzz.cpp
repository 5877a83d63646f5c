// libFuzzer target: the hand-written DER splitter and PEM reader take any bytes; a file
// of garbage must give a failure reason, never a crash or an out-of-bounds read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/certificates/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  assets::parse_certificates(bytes);
  assets::describe_certificate(bytes, 0);
  return 0;
}
