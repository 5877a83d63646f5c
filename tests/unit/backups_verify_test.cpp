// The integrity checks on fixtures: real pg_dump output from tests/testdata/backups/
// (PostgreSQL 15, archive version 1.14), gzip files made here with zlib, and custom-format
// archives of other versions built byte by byte from pg_dump's format description.
#include <zlib.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>

#include "collectors/backups/verify.h"
#include "tests/support/test_support.h"

namespace assets::backups {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(assets::testing::source_dir() / "tests/testdata/backups" / name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

VerifyStatus verify(DumpFormat format, std::string_view bytes, const Budget& budget = {}) {
  MemorySource source(bytes);
  return make_dump_verification(format)->advance(source, budget);
}

VerifyState state_of(DumpFormat format, std::string_view bytes) { return verify(format, bytes).state; }

// One gzip member of `text`, as gzip(1) writes it.
std::string gzip_member(std::string_view text, int level = 6) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, static_cast<uLong>(text.size())) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// Writes pg_dump custom-format archives (pg_backup_archiver.c, pg_backup_custom.c).
class ArchiveWriter {
 public:
  explicit ArchiveWriter(int minor) : minor_(minor) {}

  void byte(int value) { bytes_.push_back(static_cast<char>(value)); }
  void integer(std::int64_t value) {
    byte(value < 0 ? 1 : 0);
    auto magnitude = static_cast<std::uint64_t>(value < 0 ? -value : value);
    for (int i = 0; i < 4; ++i, magnitude >>= 8) byte(static_cast<int>(magnitude & 0xff));
  }
  void string(std::optional<std::string> text) {
    if (!text) {
      integer(-1);
      return;
    }
    integer(static_cast<std::int64_t>(text->size()));
    bytes_ += *text;
  }
  void offset(int state, std::uint64_t value) {
    byte(state);
    for (int i = 0; i < 8; ++i, value >>= 8) byte(static_cast<int>(value & 0xff));
  }

  void header(int toc_entries) {
    bytes_ += "PGDMP";
    byte(1);
    byte(minor_);
    byte(0);
    byte(4);  // int size
    byte(8);  // offset size
    byte(1);  // custom format
    if (minor_ >= 15) {
      byte(1);  // gzip
    } else {
      integer(-1);
    }
    for (int value : {0, 30, 2, 1, 4, 124, 0}) integer(value);
    string("assets");
    string("15.20");
    string("15.20");
    integer(toc_entries);
  }

  // Returns the position of the entry's offset field, to patch it later.
  std::size_t entry(int dump_id, bool has_data) {
    integer(dump_id);
    integer(has_data ? 1 : 0);
    string("1259");
    string(std::to_string(16000 + dump_id));
    string("item" + std::to_string(dump_id));
    string(has_data ? "TABLE DATA" : "TABLE");
    integer(has_data ? 3 : 2);
    string(has_data ? "" : "CREATE TABLE item (id int);\n");
    string("");
    string(has_data ? std::optional<std::string>("COPY item (id) FROM stdin;\n") : std::nullopt);
    string("public");
    string("");
    if (minor_ >= 14) string("heap");
    if (minor_ >= 16) integer('r');
    string("postgres");
    string("false");
    if (dump_id > 1) string(std::to_string(dump_id - 1));
    string(std::nullopt);
    const std::size_t at = bytes_.size();
    offset(has_data ? 1 : 3, 0);
    return at;
  }

  void data_block(int dump_id, const std::vector<std::string>& chunks) {
    byte(1);
    integer(dump_id);
    for (const auto& chunk : chunks) {
      integer(static_cast<std::int64_t>(chunk.size()));
      bytes_ += chunk;
    }
    integer(0);
  }

  void patch_offset(std::size_t at, std::uint64_t value) {
    std::string saved = std::move(bytes_);
    bytes_.clear();
    offset(2, value);
    saved.replace(at, bytes_.size(), bytes_);
    bytes_ = std::move(saved);
  }

  std::size_t size() const { return bytes_.size(); }
  const std::string& bytes() const { return bytes_; }

 private:
  int minor_;
  std::string bytes_;
};

// An archive with `tables` tables and their data; offsets recorded when `seekable`.
std::string build_archive(int minor, int tables, bool seekable) {
  ArchiveWriter writer(minor);
  writer.header(2 * tables);
  std::vector<std::size_t> offsets;
  for (int i = 0; i < tables; ++i) {
    writer.entry(2 * i + 1, false);
    offsets.push_back(writer.entry(2 * i + 2, true));
  }
  std::vector<std::size_t> block_starts;
  for (int i = 0; i < tables; ++i) {
    block_starts.push_back(writer.size());
    writer.data_block(2 * i + 2, {"chunk one", "chunk two"});
  }
  if (seekable) {
    for (int i = 0; i < tables; ++i) writer.patch_offset(offsets[static_cast<std::size_t>(i)], block_starts[static_cast<std::size_t>(i)]);
  }
  return writer.bytes();
}

TEST(PlainTrailer, AcceptsWhatPgDumpWrites) {
  EXPECT_EQ(check_plain_dump_tail(fixture("small.sql")).state, VerifyState::passed);
  EXPECT_EQ(check_plain_dump_tail("SELECT 1;\n\n--\n-- PostgreSQL database dump complete\n--\n\n").state,
            VerifyState::passed);
  EXPECT_EQ(check_plain_dump_tail("--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123\n\n").state,
            VerifyState::passed);
  EXPECT_EQ(check_plain_dump_tail("--\r\n-- PostgreSQL database dump complete\r\n--\r\n\r\n").state,
            VerifyState::passed);
  EXPECT_EQ(check_plain_dump_tail("--\n-- PostgreSQL database cluster dump complete\n--\n\n").state,
            VerifyState::passed);
}

TEST(PlainTrailer, RejectsMissingOrMisplacedTrailer) {
  EXPECT_EQ(check_plain_dump_tail("").state, VerifyState::failed);
  EXPECT_EQ(check_plain_dump_tail("\n\n--\n").state, VerifyState::failed);
  EXPECT_EQ(check_plain_dump_tail("--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE t (id int);\n").state,
            VerifyState::failed);
  EXPECT_EQ(check_plain_dump_tail("-- PostgreSQL database dump complete\nDROP TABLE t;\n").state, VerifyState::failed);
  EXPECT_EQ(check_plain_dump_tail("--\n-- PostgreSQL database dump compl").state, VerifyState::failed);
  EXPECT_EQ(check_plain_dump_tail("x-- PostgreSQL database dump complete\n").state, VerifyState::failed);
}

TEST(PlainDump, EveryCutBeforeTheTrailerFails) {
  const std::string dump = fixture("small.sql");
  const std::string trailer = "-- PostgreSQL database dump complete";
  const std::size_t trailer_end = dump.rfind(trailer) + trailer.size();
  ASSERT_NE(dump.rfind(trailer), std::string::npos);
  EXPECT_EQ(state_of(DumpFormat::plain, dump), VerifyState::passed);
  for (std::size_t cut = 0; cut < trailer_end; ++cut) {
    ASSERT_EQ(state_of(DumpFormat::plain, std::string_view(dump).substr(0, cut)), VerifyState::failed) << cut;
  }
}

TEST(PlainDump, ReadsOnlyTheTailOfALargeFile) {
  std::string dump(3 << 20, 'x');
  dump += "\n--\n-- PostgreSQL database dump complete\n--\n\n";
  EXPECT_EQ(state_of(DumpFormat::plain, dump), VerifyState::passed);
  EXPECT_EQ(verify(DumpFormat::plain, "").detail, "empty file");
}

TEST(GzipDump, PassesAWholeDumpInOneOrSeveralMembers) {
  const std::string dump = fixture("small.sql");
  EXPECT_EQ(state_of(DumpFormat::gzip, gzip_member(dump)), VerifyState::passed);
  EXPECT_EQ(state_of(DumpFormat::gzip, gzip_member(dump, 1)), VerifyState::passed);
  const std::string two_members = gzip_member(dump.substr(0, 1000)) + gzip_member(dump.substr(1000));
  const VerifyStatus status = verify(DumpFormat::gzip, two_members);
  EXPECT_EQ(status.state, VerifyState::passed) << status.detail;
  EXPECT_NE(status.detail.find("2 gzip member(s)"), std::string::npos) << status.detail;
}

TEST(GzipDump, DetectsEveryTruncation) {
  const std::string gz = gzip_member(fixture("small.sql"));
  for (std::size_t cut = 0; cut < gz.size(); ++cut) {
    ASSERT_EQ(state_of(DumpFormat::gzip, std::string_view(gz).substr(0, cut)), VerifyState::failed) << cut;
  }
}

TEST(GzipDump, DetectsFlippedBytesInHeaderDataAndTrailer) {
  const std::string gz = gzip_member(fixture("small.sql"));
  // Magic, compression method, deflate data, CRC-32, length (the other header bytes are advisory).
  for (std::size_t at : {std::size_t{0}, std::size_t{2}, std::size_t{20}, gz.size() / 2, gz.size() - 8,
                         gz.size() - 5, gz.size() - 4, gz.size() - 1}) {
    std::string corrupt = gz;
    corrupt[at] = static_cast<char>(corrupt[at] ^ 0x01);
    const VerifyStatus status = verify(DumpFormat::gzip, corrupt);
    EXPECT_EQ(status.state, VerifyState::failed) << "flipped byte at " << at;
  }
}

TEST(GzipDump, RejectsTrailingGarbageForeignContentAndNonGzip) {
  const std::string gz = gzip_member(fixture("small.sql"));
  EXPECT_EQ(state_of(DumpFormat::gzip, gz + "garbage"), VerifyState::failed);
  const VerifyStatus foreign = verify(DumpFormat::gzip, gzip_member("just some text\n"));
  EXPECT_EQ(foreign.state, VerifyState::failed);
  EXPECT_NE(foreign.detail.find("content"), std::string::npos) << foreign.detail;
  EXPECT_EQ(state_of(DumpFormat::gzip, fixture("small.sql")), VerifyState::failed);
  EXPECT_EQ(state_of(DumpFormat::gzip, ""), VerifyState::failed);
}

TEST(GzipDump, ResumesWhereTheBudgetRanOut) {
  std::string big;
  for (int i = 0; big.size() < (4 << 20); ++i) big += "INSERT INTO t VALUES (" + std::to_string(i * 7919) + ");\n";
  big += "--\n-- PostgreSQL database dump complete\n--\n\n";
  const std::string gz = gzip_member(big);
  MemorySource source(gz);
  GzipDumpVerification check;
  Budget spent;
  spent.deadline = std::chrono::steady_clock::now();
  EXPECT_EQ(check.advance(source, spent).state, VerifyState::pending);
  int calls = 0;
  VerifyStatus status;
  do {
    Budget slice;
    slice.deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    status = check.advance(source, slice);
    ++calls;
  } while (status.state == VerifyState::pending && calls < 100000);
  EXPECT_EQ(status.state, VerifyState::passed) << status.detail;
  EXPECT_GT(calls, 1);
}

TEST(CustomDump, ParsesRealArchives) {
  for (const char* name : {"small.dump", "small-piped.dump", "uncompressed.dump", "schema-only.dump"}) {
    const std::string dump = fixture(name);
    MemorySource source(dump);
    CustomDumpVerification check;
    const VerifyStatus status = check.advance(source, {});
    EXPECT_EQ(status.state, VerifyState::passed) << name << ": " << status.detail;
    EXPECT_EQ(check.info().version_major, 1);
    EXPECT_EQ(check.info().version_minor, 14);
    EXPECT_EQ(check.info().database, "fixture");
    EXPECT_NE(check.info().dumped_by.find("15."), std::string::npos);
  }
  const std::string dump = fixture("small.dump");
  MemorySource source(dump);
  CustomDumpVerification check;
  ASSERT_EQ(check.advance(source, {}).state, VerifyState::passed);
  EXPECT_EQ(check.info().toc_entries, 12);
  EXPECT_EQ(check.info().data_entries, 3);  // two tables and the large objects
  EXPECT_EQ(check.info().positioned_entries, 3);

  const std::string piped = fixture("small-piped.dump");
  MemorySource piped_source(piped);
  CustomDumpVerification piped_check;
  ASSERT_EQ(piped_check.advance(piped_source, {}).state, VerifyState::passed);
  EXPECT_EQ(piped_check.info().positioned_entries, 0);
}

TEST(CustomDump, EveryTruncationFails) {
  for (const char* name : {"small.dump", "small-piped.dump", "schema-only.dump"}) {
    const std::string dump = fixture(name);
    for (std::size_t cut = 0; cut < dump.size(); ++cut) {
      ASSERT_EQ(state_of(DumpFormat::custom, std::string_view(dump).substr(0, cut)), VerifyState::failed)
          << name << " cut at " << cut;
    }
  }
}

TEST(CustomDump, RejectsForeignAndDamagedArchives) {
  const std::string dump = fixture("small.dump");
  EXPECT_EQ(state_of(DumpFormat::custom, fixture("small.sql")), VerifyState::failed);
  EXPECT_EQ(state_of(DumpFormat::custom, dump + "x"), VerifyState::failed);

  std::string directory_format = dump;
  directory_format[10] = 5;
  EXPECT_NE(verify(DumpFormat::custom, directory_format).detail.find("not the custom format"), std::string::npos);

  std::string newer = dump;
  newer[6] = 17;
  EXPECT_NE(verify(DumpFormat::custom, newer).detail.find("newer"), std::string::npos);

  std::string bad_int_size = dump;
  bad_int_size[8] = 0;
  EXPECT_EQ(state_of(DumpFormat::custom, bad_int_size), VerifyState::failed);

  // The last block's recorded offset pointing elsewhere.
  CustomDumpVerification check;
  MemorySource source(dump);
  ASSERT_EQ(check.advance(source, {}).state, VerifyState::passed);
  std::string shifted = dump;
  shifted.insert(check.info().toc_end, "\x01", 1);
  EXPECT_EQ(state_of(DumpFormat::custom, shifted), VerifyState::failed);
}

TEST(CustomDump, ReadsArchiveVersionsOfPgDump9To17) {
  for (int minor : {12, 13, 14, 15, 16}) {
    for (bool seekable : {true, false}) {
      const std::string archive = build_archive(minor, 3, seekable);
      MemorySource source(archive);
      CustomDumpVerification check;
      const VerifyStatus status = check.advance(source, {});
      EXPECT_EQ(status.state, VerifyState::passed) << "1." << minor << ": " << status.detail;
      EXPECT_EQ(check.info().data_entries, 3);
      EXPECT_EQ(check.info().positioned_entries, seekable ? 3 : 0);
      for (std::size_t cut = 0; cut < archive.size(); ++cut) {
        ASSERT_EQ(state_of(DumpFormat::custom, std::string_view(archive).substr(0, cut)), VerifyState::failed)
            << "1." << minor << " cut at " << cut;
      }
    }
  }
  std::string old = build_archive(12, 1, true);
  old[6] = 11;
  EXPECT_NE(verify(DumpFormat::custom, old).detail.find("older"), std::string::npos);
}

TEST(CustomDump, ResumesALongTableOfContents) {
  const std::string archive = build_archive(14, 2000, false);
  MemorySource source(archive);
  CustomDumpVerification check;
  Budget spent;
  spent.deadline = std::chrono::steady_clock::now();
  EXPECT_EQ(check.advance(source, spent).state, VerifyState::pending);
  EXPECT_EQ(check.advance(source, spent).state, VerifyState::pending);
  const VerifyStatus status = check.advance(source, {});
  EXPECT_EQ(status.state, VerifyState::passed) << status.detail;
  EXPECT_EQ(check.info().toc_entries, 4000);
  EXPECT_EQ(check.advance(source, {}).state, VerifyState::passed);
}

TEST(DumpFormatDetection, ByExtensionThenByContent) {
  EXPECT_EQ(detect_dump_format("assets_2024-05-01.sql", ""), DumpFormat::plain);
  EXPECT_EQ(detect_dump_format("assets_2024-05-01.sql.gz", ""), DumpFormat::gzip);
  EXPECT_EQ(detect_dump_format("assets.SQL.GZ", ""), DumpFormat::gzip);
  EXPECT_EQ(detect_dump_format("assets_2024-05-01.dump", ""), DumpFormat::custom);
  EXPECT_EQ(detect_dump_format("assets.backup", ""), DumpFormat::custom);
  EXPECT_EQ(detect_dump_format("assets.bak", "PGDMP\x01\x0e"), DumpFormat::custom);
  EXPECT_EQ(detect_dump_format("assets.bak", "\x1f\x8b\x08"), DumpFormat::gzip);
  EXPECT_EQ(detect_dump_format("assets.bak", "--\n-- Postgre"), DumpFormat::plain);
}

}  // namespace
}  // namespace assets::backups
