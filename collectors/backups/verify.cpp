#include "collectors/backups/verify.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace assets::backups {
namespace {

constexpr std::size_t kReadBlock = 64 * 1024;
// How many items (blocks, chunks, TOC entries) a check handles between budget checks.
constexpr int kItemsPerBudgetCheck = 256;

constexpr std::string_view kDumpComplete = "-- PostgreSQL database dump complete";
constexpr std::string_view kClusterDumpComplete = "-- PostgreSQL database cluster dump complete";

// Thrown inside a check and turned into a failed VerifyStatus by its advance().
class VerifyFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

VerifyStatus passed(std::string detail) { return {VerifyState::passed, std::move(detail)}; }
VerifyStatus failed(std::string detail) { return {VerifyState::failed, std::move(detail)}; }
VerifyStatus pending() { return {VerifyState::pending, {}}; }

bool ends_with_ignoring_case(std::string_view text, std::string_view suffix) {
  if (text.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), text.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                    [](char a, char b) {
                      return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
                    });
}

// Sequential reads over a ByteSource through one buffer; positions are absolute. A read
// past the end throws "truncated", naming the part of the file being read.
class Cursor {
 public:
  Cursor(ByteSource& source, std::uint64_t position) : source_(source), position_(position), buffer_(kReadBlock) {}

  std::uint64_t position() const { return position_; }
  bool at_end() const { return position_ >= source_.size(); }
  void set_context(std::string_view context) { context_ = context; }

  std::uint8_t byte() {
    if (position_ < buffer_start_ || position_ >= buffer_start_ + buffer_length_) fill();
    const auto value = static_cast<std::uint8_t>(buffer_[static_cast<std::size_t>(position_ - buffer_start_)]);
    ++position_;
    return value;
  }

  void skip(std::uint64_t count) {
    const std::uint64_t size = source_.size();
    if (position_ > size || count > size - position_) {
      throw VerifyFailure("truncated: the file ends inside " + std::string(context_));
    }
    position_ += count;
  }

 private:
  void fill() {
    if (position_ >= source_.size()) throw VerifyFailure("truncated: the file ends inside " + std::string(context_));
    ByteSource::Read read = source_.read_at(position_, buffer_);
    if (!read.error.empty()) throw VerifyFailure("read error: " + read.error);
    if (read.bytes == 0) throw VerifyFailure("truncated: the file ends inside " + std::string(context_));
    buffer_start_ = position_;
    buffer_length_ = read.bytes;
  }

  ByteSource& source_;
  std::uint64_t position_;
  std::vector<char> buffer_;
  std::uint64_t buffer_start_ = 0;
  std::uint64_t buffer_length_ = 0;
  std::string_view context_ = "the archive";
};

// pg_dump's archive primitives (pg_backup_archiver.c): an int is a sign byte and
// int_size little-endian magnitude bytes; a string is an int length (-1: NULL) and bytes;
// an offset is a state byte and offset_size little-endian bytes.
class ArchiveReader {
 public:
  ArchiveReader(Cursor& cursor, int int_size, int offset_size)
      : cursor_(cursor), int_size_(int_size), offset_size_(offset_size) {}

  std::int64_t read_int() {
    const std::uint8_t sign = cursor_.byte();
    std::uint64_t magnitude = 0;
    for (int i = 0; i < int_size_; ++i) magnitude |= std::uint64_t{cursor_.byte()} << (8 * i);
    if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw VerifyFailure("corrupt archive: integer out of range at offset " + std::to_string(cursor_.position()));
    }
    const auto value = static_cast<std::int64_t>(magnitude);
    return sign != 0 ? -value : value;
  }

  // Returns false for a NULL string.
  bool skip_string() {
    const std::int64_t length = read_length();
    if (length < 0) return false;
    cursor_.skip(static_cast<std::uint64_t>(length));
    return true;
  }

  std::string read_string(std::size_t limit) {
    const std::int64_t length = read_length();
    std::string text;
    if (length < 0) return text;
    const auto kept = std::min(static_cast<std::size_t>(length), limit);
    text.reserve(kept);
    for (std::size_t i = 0; i < kept; ++i) text.push_back(static_cast<char>(cursor_.byte()));
    cursor_.skip(static_cast<std::uint64_t>(length) - kept);
    return text;
  }

  struct Offset {
    int state = 0;
    std::uint64_t value = 0;
  };
  Offset read_offset() {
    Offset offset;
    offset.state = cursor_.byte();
    for (int i = 0; i < offset_size_; ++i) offset.value |= std::uint64_t{cursor_.byte()} << (8 * i);
    return offset;
  }

 private:
  std::int64_t read_length() {
    const std::uint64_t at = cursor_.position();
    const std::int64_t length = read_int();
    if (length < -1) throw VerifyFailure("corrupt archive: negative string length at offset " + std::to_string(at));
    return length;
  }

  Cursor& cursor_;
  int int_size_;
  int offset_size_;
};

constexpr int archive_version(int major, int minor, int revision) { return (major * 256 + minor) * 256 + revision; }
constexpr int kVersion1_10 = archive_version(1, 10, 0);
constexpr int kVersion1_12 = archive_version(1, 12, 0);
constexpr int kVersion1_14 = archive_version(1, 14, 0);
constexpr int kVersion1_15 = archive_version(1, 15, 0);
constexpr int kVersion1_16 = archive_version(1, 16, 0);
constexpr int kNewestReadable = archive_version(1, 16, 255);

constexpr int kFormatCustom = 1;
constexpr int kOffsetPositionNotSet = 1;
constexpr int kOffsetPositionSet = 2;
constexpr int kOffsetNoData = 3;
constexpr int kBlockData = 1;
constexpr int kBlockBlobs = 3;
constexpr std::int64_t kSectionNone = 1;
constexpr std::int64_t kSectionPostData = 4;
constexpr std::int64_t kMaxDependencies = 1'000'000;

}  // namespace

ByteSource::Read MemorySource::read_at(std::uint64_t offset, std::span<char> out) {
  if (offset >= bytes_.size()) return {};
  const auto count = std::min<std::uint64_t>(out.size(), bytes_.size() - offset);
  std::memcpy(out.data(), bytes_.data() + offset, static_cast<std::size_t>(count));
  return {static_cast<std::size_t>(count), {}};
}

ByteSource::Read FileSource::read_at(std::uint64_t offset, std::span<char> out) {
  if (offset >= size_) return {};
  const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
  for (;;) {
    const ssize_t got = pread(fd_, out.data(), wanted, static_cast<off_t>(offset));
    if (got >= 0) return {static_cast<std::size_t>(got), {}};
    if (errno != EINTR) return {0, std::strerror(errno)};
  }
}

std::string_view to_string(DumpFormat format) {
  switch (format) {
    case DumpFormat::plain:
      return "plain";
    case DumpFormat::gzip:
      return "gzip";
    case DumpFormat::custom:
      return "custom";
  }
  return "unknown";
}

DumpFormat detect_dump_format(std::string_view file_name, std::string_view first_bytes) {
  if (ends_with_ignoring_case(file_name, ".sql")) return DumpFormat::plain;
  if (ends_with_ignoring_case(file_name, ".gz") || ends_with_ignoring_case(file_name, ".gzip")) return DumpFormat::gzip;
  for (std::string_view extension : {".dump", ".backup", ".pgdump"}) {
    if (ends_with_ignoring_case(file_name, extension)) return DumpFormat::custom;
  }
  if (first_bytes.starts_with("PGDMP")) return DumpFormat::custom;
  if (first_bytes.starts_with("\x1f\x8b")) return DumpFormat::gzip;
  return DumpFormat::plain;
}

VerifyStatus check_plain_dump_tail(std::string_view tail) {
  constexpr std::string_view kWhitespace = " \t\r\n";
  std::string_view rest = tail;
  for (;;) {
    const auto last = rest.find_last_not_of(kWhitespace);
    if (last == std::string_view::npos) break;
    rest = rest.substr(0, last + 1);
    const auto newline = rest.rfind('\n');
    std::string_view line = newline == std::string_view::npos ? rest : rest.substr(newline + 1);
    if (line == kDumpComplete || line == kClusterDumpComplete) return passed("pg_dump completion trailer present");
    if (line != "--" && !line.starts_with("\\unrestrict ")) {
      return failed("no \"" + std::string(kDumpComplete) + "\" trailer at the end: the dump is incomplete");
    }
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(0, newline);
  }
  return failed("no \"" + std::string(kDumpComplete) + "\" trailer at the end: the dump is empty or incomplete");
}

std::unique_ptr<DumpVerification> make_dump_verification(DumpFormat format) {
  switch (format) {
    case DumpFormat::plain:
      return std::make_unique<PlainDumpVerification>();
    case DumpFormat::gzip:
      return std::make_unique<GzipDumpVerification>();
    case DumpFormat::custom:
      return std::make_unique<CustomDumpVerification>();
  }
  return nullptr;
}

VerifyStatus PlainDumpVerification::advance(ByteSource& source, const Budget&) {
  const std::uint64_t size = source.size();
  if (size == 0) return failed("empty file");
  const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(size, kPlainTailBytes));
  std::string tail(length, '\0');
  std::size_t have = 0;
  while (have < length) {
    ByteSource::Read read = source.read_at(size - length + have, std::span<char>(tail).subspan(have));
    if (!read.error.empty()) return failed("read error: " + read.error);
    if (read.bytes == 0) return failed("the file shrank while it was read");
    have += read.bytes;
  }
  return check_plain_dump_tail(tail);
}

GzipDumpVerification::GzipDumpVerification() : input_(kReadBlock), output_(kReadBlock) {}

GzipDumpVerification::~GzipDumpVerification() {
  if (stream_ready_) inflateEnd(&stream_);
}

VerifyStatus GzipDumpVerification::fail(std::string detail) {
  finished_ = true;
  result_ = failed(std::move(detail));
  return result_;
}

void GzipDumpVerification::keep_tail(const unsigned char* data, std::size_t size) {
  output_bytes_ += size;
  if (size >= kPlainTailBytes) {
    tail_.assign(reinterpret_cast<const char*>(data + size - kPlainTailBytes), kPlainTailBytes);
    return;
  }
  tail_.append(reinterpret_cast<const char*>(data), size);
  if (tail_.size() > 2 * kPlainTailBytes) tail_.erase(0, tail_.size() - kPlainTailBytes);
}

VerifyStatus GzipDumpVerification::advance(ByteSource& source, const Budget& budget) {
  if (finished_) return result_;
  const std::uint64_t size = source.size();
  if (size == 0) return fail("empty file");
  if (!stream_ready_) {
    // 15 + 16: a 32 KiB window and gzip framing, whose CRC-32 and length zlib checks.
    if (inflateInit2(&stream_, 15 + 16) != Z_OK) return fail("zlib could not be initialised");
    stream_ready_ = true;
  }
  while (position_ < size) {
    if (budget.exhausted()) return pending();
    ByteSource::Read read = source.read_at(position_, input_);
    if (!read.error.empty()) return fail("read error: " + read.error);
    if (read.bytes == 0) return fail("the file shrank while it was read");
    stream_.next_in = reinterpret_cast<Bytef*>(input_.data());
    stream_.avail_in = static_cast<uInt>(read.bytes);
    while (stream_.avail_in > 0) {
      if (!in_member_) {
        // Bytes after a complete member must start another member.
        inflateReset(&stream_);
        in_member_ = true;
        if (stream_.next_in[0] != 0x1f) {
          return fail("data after the end of the gzip stream at offset " +
                      std::to_string(position_ + read.bytes - stream_.avail_in));
        }
      }
      stream_.next_out = output_.data();
      stream_.avail_out = static_cast<uInt>(output_.size());
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      keep_tail(output_.data(), output_.size() - stream_.avail_out);
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        ++members_;
      } else if (rc != Z_OK) {
        const std::uint64_t at = position_ + read.bytes - stream_.avail_in;
        return fail("corrupt gzip data near offset " + std::to_string(at) + ": " +
                    (stream_.msg != nullptr ? stream_.msg : "zlib error " + std::to_string(rc)));
      }
    }
    position_ += read.bytes;
  }
  if (in_member_) return fail("truncated: the gzip stream ends before its trailer (CRC and length)");
  VerifyStatus content = check_plain_dump_tail(tail_);
  finished_ = true;
  if (content.state == VerifyState::passed) {
    result_ = passed(std::to_string(members_) + " gzip member(s), CRC and length correct, " +
                     std::to_string(output_bytes_) + " bytes decompressed; " + content.detail);
  } else {
    result_ = failed("gzip stream intact, but its content: " + content.detail);
  }
  return result_;
}

VerifyStatus CustomDumpVerification::finish(VerifyStatus status) {
  phase_ = Phase::done;
  result_ = std::move(status);
  return result_;
}

VerifyStatus CustomDumpVerification::advance(ByteSource& source, const Budget& budget) {
  try {
    if (phase_ == Phase::header) {
      VerifyStatus header = read_header(source);
      if (header.state == VerifyState::failed) return finish(std::move(header));
      phase_ = Phase::toc;
    }
    if (phase_ == Phase::toc) {
      VerifyStatus toc = read_toc(source, budget);
      if (toc.state != VerifyState::pending) return finish(std::move(toc));
      if (phase_ == Phase::toc) return toc;
    }
    if (phase_ == Phase::blocks) {
      VerifyStatus blocks = walk_blocks(source, budget);
      if (blocks.state == VerifyState::pending) return blocks;
      return finish(std::move(blocks));
    }
  } catch (const VerifyFailure& failure) {
    return finish(failed(failure.what()));
  }
  return result_;
}

VerifyStatus CustomDumpVerification::read_header(ByteSource& source) {
  if (source.size() == 0) return failed("empty file");
  Cursor cursor(source, 0);
  cursor.set_context("the archive header");
  char magic[5];
  for (char& c : magic) {
    if (cursor.at_end()) return failed("not a pg_dump custom-format archive (no PGDMP header)");
    c = static_cast<char>(cursor.byte());
  }
  if (std::string_view(magic, sizeof magic) != "PGDMP") {
    return failed("not a pg_dump custom-format archive (no PGDMP header)");
  }
  info_.version_major = cursor.byte();
  info_.version_minor = cursor.byte();
  info_.version_revision = cursor.byte();
  archive_version_ = archive_version(info_.version_major, info_.version_minor, info_.version_revision);
  const std::string version = std::to_string(info_.version_major) + "." + std::to_string(info_.version_minor);
  if (archive_version_ < kVersion1_12) return failed("archive version " + version + " is older than 1.12 (pg_dump 9.0)");
  if (archive_version_ > kNewestReadable) {
    return failed("archive version " + version + " is newer than this agent reads (1.16); use pg_restore: or verify: none");
  }
  info_.int_size = cursor.byte();
  info_.offset_size = cursor.byte();
  if (info_.int_size < 1 || info_.int_size > 8 || info_.offset_size < 1 || info_.offset_size > 8) {
    return failed("corrupt archive header: integer size " + std::to_string(info_.int_size) + ", offset size " +
                  std::to_string(info_.offset_size));
  }
  const int format = cursor.byte();
  if (format != kFormatCustom) {
    return failed("archive format " + std::to_string(format) + " is not the custom format (pg_dump -Fc)");
  }
  ArchiveReader reader(cursor, info_.int_size, info_.offset_size);
  if (archive_version_ >= kVersion1_15) {
    // The compression algorithm: none, gzip, lz4, zstd.
    if (cursor.byte() > 3) return failed("corrupt archive header: unknown compression algorithm");
  } else {
    const std::int64_t level = reader.read_int();
    if (level < -1 || level > 9) return failed("corrupt archive header: compression level " + std::to_string(level));
  }
  for (int i = 0; i < 7; ++i) reader.read_int();  // creation time: sec, min, hour, mday, mon, year, isdst
  info_.database = reader.read_string(256);
  if (archive_version_ >= kVersion1_10) {
    reader.skip_string();  // the server's version
    info_.dumped_by = reader.read_string(256);
  }
  info_.toc_entries = reader.read_int();
  if (info_.toc_entries < 0) return failed("corrupt archive header: negative TOC entry count");
  position_ = cursor.position();
  return pending();
}

VerifyStatus CustomDumpVerification::read_toc(ByteSource& source, const Budget& budget) {
  Cursor cursor(source, position_);
  cursor.set_context("the table of contents");
  ArchiveReader reader(cursor, info_.int_size, info_.offset_size);
  while (entries_read_ < info_.toc_entries) {
    if (entries_read_ % kItemsPerBudgetCheck == 0 && entries_read_ > 0 && budget.exhausted()) return pending();
    const std::string entry = "TOC entry " + std::to_string(entries_read_ + 1);
    const std::int64_t dump_id = reader.read_int();
    if (dump_id <= 0) throw VerifyFailure("corrupt archive: " + entry + " has dump id " + std::to_string(dump_id));
    const std::int64_t had_dumper = reader.read_int();
    if (had_dumper != 0 && had_dumper != 1) throw VerifyFailure("corrupt archive: " + entry + " has a bad data flag");
    for (int i = 0; i < 4; ++i) reader.skip_string();  // table oid, oid, tag, desc
    const std::int64_t section = reader.read_int();
    if (section < kSectionNone || section > kSectionPostData) {
      throw VerifyFailure("corrupt archive: " + entry + " has section " + std::to_string(section));
    }
    for (int i = 0; i < 5; ++i) reader.skip_string();  // defn, drop, copy, namespace, tablespace
    if (archive_version_ >= kVersion1_14) reader.skip_string();  // table access method
    if (archive_version_ >= kVersion1_16) reader.read_int();     // relkind
    reader.skip_string();                                       // owner
    reader.skip_string();                                       // "with oids"
    std::int64_t dependencies = 0;
    while (reader.skip_string()) {
      if (++dependencies > kMaxDependencies) throw VerifyFailure("corrupt archive: " + entry + " has too many dependencies");
    }
    const ArchiveReader::Offset offset = reader.read_offset();
    if (offset.state == kOffsetPositionSet) {
      ++info_.data_entries;
      ++info_.positioned_entries;
      if (offset.value >= info_.last_block_offset) {
        info_.last_block_offset = offset.value;
        info_.last_block_dump_id = dump_id;
      }
    } else if (offset.state == kOffsetPositionNotSet) {
      ++info_.data_entries;
    } else if (offset.state != kOffsetNoData) {
      throw VerifyFailure("corrupt archive: " + entry + " has data state " + std::to_string(offset.state));
    }
    ++entries_read_;
    position_ = cursor.position();
  }
  info_.toc_end = position_;
  const std::uint64_t size = source.size();
  if (info_.data_entries == 0) {
    if (info_.toc_end != size) {
      return failed("corrupt archive: " + std::to_string(size - info_.toc_end) + " unexpected bytes after the table of contents");
    }
    return passed(std::to_string(info_.toc_entries) + " TOC entries, no data blocks");
  }
  if (info_.positioned_entries > 0) {
    if (info_.last_block_offset < info_.toc_end) {
      throw VerifyFailure("corrupt archive: a data block offset points into the table of contents");
    }
    if (info_.last_block_offset >= size) {
      return failed("truncated: the last data block starts at offset " + std::to_string(info_.last_block_offset) +
                    " but the file has " + std::to_string(size) + " bytes");
    }
    position_ = info_.last_block_offset;
  } else {
    // Written through a pipe: pg_dump could not go back to record the offsets.
    sequential_ = true;
  }
  phase_ = Phase::blocks;
  return pending();
}

VerifyStatus CustomDumpVerification::walk_blocks(ByteSource& source, const Budget& budget) {
  Cursor cursor(source, position_);
  cursor.set_context("a data block");
  ArchiveReader reader(cursor, info_.int_size, info_.offset_size);
  const std::uint64_t size = source.size();
  const std::int64_t expected_blocks = sequential_ ? info_.data_entries : 1;
  for (int items = 1;; ++items) {
    if (items % kItemsPerBudgetCheck == 0 && budget.exhausted()) return pending();
    switch (block_step_) {
      case BlockStep::block_start: {
        if (blocks_walked_ == expected_blocks || cursor.position() == size) {
          if (blocks_walked_ < expected_blocks) {
            return failed("truncated: " + std::to_string(blocks_walked_) + " of " + std::to_string(expected_blocks) +
                          " data blocks present");
          }
          if (cursor.position() != size) {
            return failed("corrupt archive: " + std::to_string(size - cursor.position()) +
                          " unexpected bytes after the last data block");
          }
          return passed(std::to_string(info_.toc_entries) + " TOC entries, " + std::to_string(info_.data_entries) +
                        " data blocks, archive complete");
        }
        block_type_ = cursor.byte();
        const std::int64_t dump_id = reader.read_int();
        if (block_type_ != kBlockData && block_type_ != kBlockBlobs) {
          throw VerifyFailure("corrupt archive: unknown block type " + std::to_string(block_type_) + " at offset " +
                              std::to_string(position_));
        }
        if (!sequential_ && dump_id != info_.last_block_dump_id) {
          throw VerifyFailure("corrupt archive: the block at offset " + std::to_string(position_) + " belongs to entry " +
                              std::to_string(dump_id) + ", not " + std::to_string(info_.last_block_dump_id));
        }
        block_step_ = block_type_ == kBlockBlobs ? BlockStep::blob_oid : BlockStep::chunk_length;
        break;
      }
      case BlockStep::chunk_length: {
        const std::int64_t length = reader.read_int();
        if (length < 0) throw VerifyFailure("corrupt archive: negative chunk length at offset " + std::to_string(position_));
        if (length > 0) {
          cursor.skip(static_cast<std::uint64_t>(length));
        } else if (block_type_ == kBlockBlobs) {
          block_step_ = BlockStep::blob_oid;
        } else {
          ++blocks_walked_;
          block_step_ = BlockStep::block_start;
        }
        break;
      }
      case BlockStep::blob_oid: {
        const std::int64_t oid = reader.read_int();
        if (oid < 0) throw VerifyFailure("corrupt archive: negative large object id at offset " + std::to_string(position_));
        if (oid == 0) {
          ++blocks_walked_;
          block_step_ = BlockStep::block_start;
        } else {
          block_step_ = BlockStep::chunk_length;
        }
        break;
      }
    }
    position_ = cursor.position();
  }
}

}  // namespace assets::backups
