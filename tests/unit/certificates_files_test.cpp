// Reading certificate files from disk: glob expansion, faults, the stat-keyed cache.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "collectors/certificates/files.h"
#include "collectors/certificates/glob.h"
#include "tests/support/cert_factory.h"
#include "tests/support/test_support.h"

namespace assets {
namespace {

namespace fs = std::filesystem;
using testing::Certificate;
using testing::CertificateSpec;
using testing::KeyAlgorithm;
using testing::PrivateKey;
using testing::TempDir;
using testing::write_file;

std::string certificate_pem(const std::string& name, std::chrono::days valid_for = std::chrono::days(90)) {
  CertificateSpec spec;
  spec.common_name = name;
  spec.not_after = testing::from_now(valid_for);
  spec.key = PrivateKey::shared(KeyAlgorithm::ecdsa_p256);
  return Certificate::make(spec).pem();
}

std::vector<std::string> relative(const GlobExpansion& expansion, const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& file : expansion.files) out.push_back(fs::path(file).lexically_relative(root).string());
  return out;
}

// Runs `read` as user nobody in a child process and returns the failure it saw. Root
// reads everything, so permission tests need an unprivileged reader.
CertFailure failure_as_nobody(const std::string& path) {
  const pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    _exit(static_cast<int>(read_certificate_file(path, 1 << 20).failure));
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 100) << "cannot switch to user nobody";
  return static_cast<CertFailure>(WEXITSTATUS(status));
}

TEST(CertificatesGlobExpansion, LetsEncryptLayoutWithSymlinks) {
  TempDir dir;
  const fs::path root = dir.path();
  for (const std::string site : {"a.test", "b.test"}) {
    write_file(root / "archive" / site / "fullchain1.pem", certificate_pem(site));
    fs::create_directories(root / "live" / site);
    fs::create_symlink("../../archive/" + site + "/fullchain1.pem", root / "live" / site / "fullchain.pem");
  }
  write_file(root / "live/README", "This directory contains your keys and certificates.\n");
  const GlobExpansion expansion =
      expand_globs({(root / "live/*/fullchain.pem").string(), (root / "live/*").string()}, {"**/README"}, 100);
  EXPECT_EQ(relative(expansion, root), (std::vector<std::string>{"live/a.test/fullchain.pem", "live/b.test/fullchain.pem"}));
  EXPECT_TRUE(expansion.unmatched.empty());
  EXPECT_FALSE(expansion.truncated);
}

TEST(CertificatesGlobExpansion, DoubleStarRecursesAndSurvivesSymlinkLoops) {
  TempDir dir;
  const fs::path root = dir.path();
  write_file(root / "top.pem", "x");
  write_file(root / "a/mid.pem", "x");
  write_file(root / "a/b/c/deep.pem", "x");
  write_file(root / "a/b/c/other.txt", "x");
  fs::create_directory_symlink(root / "a", root / "a/b/loop");
  const GlobExpansion expansion = expand_globs({(root / "**/*.pem").string()}, {}, 1000);
  std::vector<std::string> found = relative(expansion, root);
  // The loop is entered once (a/b/loop/...) and not again.
  EXPECT_TRUE(std::find(found.begin(), found.end(), "top.pem") != found.end());
  EXPECT_TRUE(std::find(found.begin(), found.end(), "a/mid.pem") != found.end());
  EXPECT_TRUE(std::find(found.begin(), found.end(), "a/b/c/deep.pem") != found.end());
  EXPECT_LT(found.size(), 10u);
  const GlobExpansion everything = expand_globs({(root / "a/**").string()}, {"**/*.txt", "**/loop/**"}, 1000);
  EXPECT_EQ(relative(everything, root), (std::vector<std::string>{"a/b/c/deep.pem", "a/mid.pem"}));
}

TEST(CertificatesGlobExpansion, UnmatchedPatternsAndLiteralPaths) {
  TempDir dir;
  const fs::path root = dir.path();
  const GlobExpansion expansion =
      expand_globs({(root / "none/*.pem").string(), (root / "missing.pem").string()}, {}, 100);
  ASSERT_EQ(expansion.unmatched.size(), 1u);
  EXPECT_EQ(expansion.unmatched[0].pattern, (root / "none/*.pem").string());
  EXPECT_EQ(expansion.unmatched[0].failure, CertFailure::not_found);
  // A literal path is kept, so reading it reports not_found.
  EXPECT_EQ(expansion.files, std::vector<std::string>{(root / "missing.pem").string()});
}

TEST(CertificatesGlobExpansion, RelativePatternsAreFromTheCurrentDirectory) {
  TempDir dir;
  write_file(dir / "rel/x.pem", "x");
  const fs::path previous = fs::current_path();
  fs::current_path(dir.path());
  const GlobExpansion expansion = expand_globs({"rel/*.pem"}, {}, 100);
  fs::current_path(previous);
  EXPECT_EQ(expansion.files, std::vector<std::string>{(fs::canonical(dir.path()) / "rel/x.pem").string()});
}

TEST(CertificatesGlobExpansion, StopsAtTheFileLimit) {
  TempDir dir;
  for (int i = 0; i < 20; ++i) write_file(dir / ("c" + std::to_string(i) + ".pem"), "x");
  const GlobExpansion expansion = expand_globs({(dir / "*.pem").string()}, {}, 5);
  EXPECT_EQ(expansion.files.size(), 5u);
  EXPECT_TRUE(expansion.truncated);
}

TEST(CertificatesGlobExpansion, UnreadableDirectoryIsPermissionDenied) {
  TempDir dir;
  write_file(dir / "private/site/cert.pem", certificate_pem("private.test"));
  fs::permissions(dir / "private", fs::perms::owner_all);
  const std::string pattern = (dir / "private/*/cert.pem").string();
  if (geteuid() != 0) {
    fs::permissions(dir / "private", fs::perms::none);
    const GlobExpansion expansion = expand_globs({pattern}, {}, 100);
    fs::permissions(dir / "private", fs::perms::owner_all);
    ASSERT_EQ(expansion.unmatched.size(), 1u);
    EXPECT_EQ(expansion.unmatched[0].failure, CertFailure::permission_denied);
    return;
  }
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_exec);
  const pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    const GlobExpansion expansion = expand_globs({pattern}, {}, 100);
    _exit(expansion.unmatched.size() == 1 && expansion.unmatched[0].failure == CertFailure::permission_denied ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(CertificatesFiles, Faults) {
  TempDir dir;
  write_file(dir / "empty.pem", "");
  write_file(dir / "garbage.pem", "not a certificate at all\n");
  write_file(dir / "big.pem", std::string(2048, 'x'));
  fs::create_directory(dir / "directory.pem");
  EXPECT_EQ(read_certificate_file((dir / "missing.pem").string(), 1 << 20).failure, CertFailure::not_found);
  EXPECT_EQ(read_certificate_file((dir / "empty.pem").string(), 1 << 20).failure, CertFailure::empty);
  EXPECT_EQ(read_certificate_file((dir / "garbage.pem").string(), 1 << 20).failure, CertFailure::bad_pem);
  const FileScan big = read_certificate_file((dir / "big.pem").string(), 1024);
  EXPECT_EQ(big.failure, CertFailure::other);
  EXPECT_NE(big.detail.find("max_file_bytes"), std::string::npos);
  EXPECT_EQ(read_certificate_file((dir / "directory.pem").string(), 1 << 20).failure, CertFailure::other);
}

TEST(CertificatesFiles, UnreadableFileIsPermissionDenied) {
  TempDir dir;
  write_file(dir / "locked.pem", certificate_pem("locked.test"));
  fs::permissions(dir / "locked.pem", fs::perms::owner_read | fs::perms::owner_write);
  const std::string path = (dir / "locked.pem").string();
  if (geteuid() != 0) {
    EXPECT_EQ(read_certificate_file(path, 1 << 20).failure, CertFailure::permission_denied);
    return;
  }
  // Traversable, so the file itself is what refuses.
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_exec);
  EXPECT_EQ(failure_as_nobody(path), CertFailure::permission_denied);
  fs::permissions(dir.path(), fs::perms::owner_all);
  EXPECT_EQ(failure_as_nobody(path), CertFailure::permission_denied) << "an untraversable directory too";
}

TEST(CertificatesFiles, CacheReusesAnUnchangedFileAndRereadsAChangedOne) {
  TempDir dir;
  const std::string path = (dir / "cert.pem").string();
  write_file(path, certificate_pem("first.test"));
  CertificateFileCache cache;
  const auto first = cache.scan(path, 1 << 20);
  EXPECT_EQ(cache.scan(path, 1 << 20), first) << "unchanged: the cached parse";
  write_file(path, certificate_pem("second.test") + certificate_pem("third.test"));
  const auto second = cache.scan(path, 1 << 20);
  EXPECT_NE(second, first);
  ASSERT_EQ(second->certificates.size(), 2u);
  EXPECT_EQ(second->certificates[0].subject_cn, "second.test");
}

TEST(CertificatesFiles, SymlinkSwapIsSeenThroughTheLink) {
  TempDir dir;
  write_file(dir / "archive/cert1.pem", certificate_pem("old.test", std::chrono::days(3)));
  write_file(dir / "archive/cert2.pem", certificate_pem("renewed.test", std::chrono::days(90)));
  const fs::path link = dir / "live/cert.pem";
  fs::create_directories(link.parent_path());
  fs::create_symlink("../archive/cert1.pem", link);
  CertificateFileCache cache;
  EXPECT_EQ(cache.scan(link.string(), 1 << 20)->certificates.at(0).subject_cn, "old.test");
  // certbot's swap: a new link renamed over the old one.
  fs::create_symlink("../archive/cert2.pem", dir / "live/cert.pem.new");
  fs::rename(dir / "live/cert.pem.new", link);
  EXPECT_EQ(cache.scan(link.string(), 1 << 20)->certificates.at(0).subject_cn, "renewed.test");
}

TEST(CertificatesFiles, CacheForgetsFilesNoLongerMatched) {
  TempDir dir;
  write_file(dir / "a.pem", certificate_pem("a.test"));
  write_file(dir / "b.pem", certificate_pem("b.test"));
  CertificateFileCache cache;
  cache.scan((dir / "a.pem").string(), 1 << 20);
  cache.scan((dir / "b.pem").string(), 1 << 20);
  cache.forget_unseen();
  EXPECT_EQ(cache.size(), 2u);
  cache.scan((dir / "a.pem").string(), 1 << 20);
  cache.forget_unseen();
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace assets
