// libFuzzer target: the restore test's status file is written by another program and may
// be cut short or edited by hand. Any bytes must give a status or a reason, and the
// RFC 3339 reader behind its times must take any text, never crashing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/backups/restore_status.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto status = assets::backups::parse_restore_test_status(text, error);
  if (!status && error.empty()) __builtin_trap();
  assets::backups::parse_rfc3339(text);
  return 0;
}
