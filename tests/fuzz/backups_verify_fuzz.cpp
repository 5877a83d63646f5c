// libFuzzer target: a backup file is whatever is on disk, truncated or corrupt. Detection
// by content and every format's integrity check (plain trailer, gzip members, custom
// format header, TOC and data blocks) must end in passed or failed, never crash, hang
// or read out of bounds. The checks read from memory, as in the unit tests.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/backups/verify.h"

using assets::backups::DumpFormat;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  assets::backups::detect_dump_format("", bytes);
  // Every check sees every input: a mutated archive that lost its magic still reaches
  // the parsers behind it.
  for (const DumpFormat format : {DumpFormat::plain, DumpFormat::gzip, DumpFormat::custom}) {
    assets::backups::MemorySource source(bytes);
    const auto verification = assets::backups::make_dump_verification(format);
    // An unlimited budget: a check still pending has stopped without a verdict.
    const assets::backups::VerifyStatus status = verification->advance(source, assets::backups::Budget{});
    if (status.state == assets::backups::VerifyState::pending) __builtin_trap();
  }
  return 0;
}
