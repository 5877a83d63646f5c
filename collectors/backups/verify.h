#pragma once
// Integrity checks of pg_dump output. The checks read through a ByteSource, so unit tests
// feed them bytes and the collector feeds them a file. A check of a large file is
// resumable: advance() returns `pending` when its budget runs out and continues from the
// same place on the next call, so a 10 GiB dump is read once, spread over a few runs,
// with memory bounded by a few fixed buffers.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

namespace assets::backups {

class ByteSource {
 public:
  struct Read {
    std::size_t bytes = 0;  // 0 only at the end of the data
    std::string error;      // set when the read failed
  };
  virtual ~ByteSource() = default;
  virtual std::uint64_t size() const = 0;
  virtual Read read_at(std::uint64_t offset, std::span<char> out) = 0;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  Read read_at(std::uint64_t offset, std::span<char> out) override;

 private:
  std::string_view bytes_;
};

// Reads an open file with pread; does not own the descriptor.
class FileSource final : public ByteSource {
 public:
  FileSource(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  std::uint64_t size() const override { return size_; }
  Read read_at(std::uint64_t offset, std::span<char> out) override;

 private:
  int fd_;
  std::uint64_t size_;
};

// The time one collector run may spend on a set: checks stop when it is used up.
struct Budget {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::stop_token stop;
  bool exhausted() const { return stop.stop_requested() || std::chrono::steady_clock::now() >= deadline; }
};

enum class VerifyState { pending, passed, failed };

struct VerifyStatus {
  VerifyState state = VerifyState::pending;
  std::string detail;  // why it failed, or what was checked
};

enum class DumpFormat { plain, gzip, custom };

std::string_view to_string(DumpFormat format);

// The check `verify: auto` picks: by the file name's extension (.sql plain; .gz gzip;
// .dump, .backup, .pgdump custom), else by the first bytes (PGDMP custom, 1f 8b gzip),
// else plain.
DumpFormat detect_dump_format(std::string_view file_name, std::string_view first_bytes);

// Passes when the text ends with pg_dump's (or pg_dumpall's) completion trailer. Blank
// lines, "--" lines and the "\unrestrict KEY" line newer pg_dump versions print last may
// follow it.
VerifyStatus check_plain_dump_tail(std::string_view tail);

class DumpVerification {
 public:
  virtual ~DumpVerification() = default;
  // Continues the check; returns `pending` when the budget ran out before the end.
  virtual VerifyStatus advance(ByteSource& source, const Budget& budget) = 0;
};

std::unique_ptr<DumpVerification> make_dump_verification(DumpFormat format);

// How many bytes at the end of a plain dump the trailer check reads.
inline constexpr std::size_t kPlainTailBytes = 4096;

class PlainDumpVerification final : public DumpVerification {
 public:
  VerifyStatus advance(ByteSource& source, const Budget& budget) override;
};

// Decompresses every gzip member to the end (zlib checks each member's CRC-32 and
// length), keeps only the last kPlainTailBytes of the output and checks the plain trailer.
class GzipDumpVerification final : public DumpVerification {
 public:
  GzipDumpVerification();
  ~GzipDumpVerification() override;
  GzipDumpVerification(const GzipDumpVerification&) = delete;
  GzipDumpVerification& operator=(const GzipDumpVerification&) = delete;
  VerifyStatus advance(ByteSource& source, const Budget& budget) override;

 private:
  VerifyStatus fail(std::string detail);
  void keep_tail(const unsigned char* data, std::size_t size);

  z_stream stream_{};
  bool stream_ready_ = false;
  bool in_member_ = true;  // between a member's first byte and its end (CRC and length checked)
  std::uint64_t members_ = 0;
  std::uint64_t position_ = 0;
  std::uint64_t output_bytes_ = 0;
  std::string tail_;
  std::vector<char> input_;
  std::vector<unsigned char> output_;
  bool finished_ = false;
  VerifyStatus result_;
};

// What the header and table of contents of a custom-format archive say.
struct CustomArchiveInfo {
  int version_major = 0;
  int version_minor = 0;
  int version_revision = 0;
  int int_size = 0;
  int offset_size = 0;
  std::string database;
  std::string dumped_by;  // pg_dump's version, from archive version 1.10 on
  std::int64_t toc_entries = 0;
  std::int64_t data_entries = 0;       // entries that have a data block
  std::int64_t positioned_entries = 0;  // data entries whose block offset pg_dump recorded
  std::uint64_t toc_end = 0;
  std::uint64_t last_block_offset = 0;  // highest recorded data block offset
  std::int64_t last_block_dump_id = 0;
};

// pg_dump -Fc: parses the header and the table of contents (archive versions 1.12 to
// 1.16, pg_dump 9.0 to 17), then checks the archive is complete: when pg_dump recorded
// data offsets (seekable output) the last data block must be whole and end at the end
// of the file; otherwise (output through a pipe) every data block is walked to the end.
// Block contents are skipped, not decompressed.
class CustomDumpVerification final : public DumpVerification {
 public:
  VerifyStatus advance(ByteSource& source, const Budget& budget) override;
  const CustomArchiveInfo& info() const { return info_; }

 private:
  enum class Phase { header, toc, blocks, done };
  enum class BlockStep { block_start, chunk_length, blob_oid };

  VerifyStatus read_header(ByteSource& source);
  VerifyStatus read_toc(ByteSource& source, const Budget& budget);
  VerifyStatus walk_blocks(ByteSource& source, const Budget& budget);
  VerifyStatus finish(VerifyStatus status);

  Phase phase_ = Phase::header;
  CustomArchiveInfo info_;
  int archive_version_ = 0;
  std::uint64_t position_ = 0;
  std::int64_t entries_read_ = 0;
  bool sequential_ = false;  // walk every block from the end of the TOC
  BlockStep block_step_ = BlockStep::block_start;
  int block_type_ = 0;
  std::int64_t blocks_walked_ = 0;
  VerifyStatus result_;
};

}  // namespace assets::backups
