#include "collectors/certificates/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

#include <openssl/crypto.h>

namespace assets {
namespace {

// Holds file contents that may include a private key; wiped before it is freed.
class WipedBuffer {
 public:
  explicit WipedBuffer(std::size_t size) : data_(new char[size]), size_(size) {}
  ~WipedBuffer() { OPENSSL_cleanse(data_.get(), size_); }
  WipedBuffer(const WipedBuffer&) = delete;
  WipedBuffer& operator=(const WipedBuffer&) = delete;
  char* data() { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_;
};

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

FileScan failed(CertFailure failure, std::string detail) {
  FileScan scan;
  scan.failure = failure;
  scan.detail = std::move(detail);
  return scan;
}

FileScan failed_errno(std::string_view operation, int error) {
  CertFailure failure = CertFailure::other;
  if (error == ENOENT || error == ENOTDIR) failure = CertFailure::not_found;
  if (error == EACCES || error == EPERM) failure = CertFailure::permission_denied;
  return failed(failure, std::string(operation) + ": " + std::error_code(error, std::generic_category()).message());
}

FileIdentity identity_of(const struct stat& info) {
  return FileIdentity{info.st_dev, info.st_ino, info.st_size,
                      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

FileScan read_stated(const std::string& path, const struct stat& info, std::uint64_t max_bytes,
                     CertificateMemo* memo) {
  if (!S_ISREG(info.st_mode)) return failed(CertFailure::other, "not a regular file");
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (size > max_bytes) {
    return failed(CertFailure::other, "larger than max_file_bytes (" + std::to_string(max_bytes) + " bytes)");
  }
  if (size == 0) return failed(CertFailure::empty, "the file is empty");
  // O_NONBLOCK: should the path turn into a FIFO after stat, open must not wait for a writer.
  const FileDescriptor file(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (file.get() < 0) return failed_errno("open", errno);
  struct stat opened {};
  if (fstat(file.get(), &opened) != 0) return failed_errno("stat", errno);
  if (!S_ISREG(opened.st_mode)) return failed(CertFailure::other, "not a regular file");
  // One byte more than stat promised shows a file that grew meanwhile.
  WipedBuffer buffer(static_cast<std::size_t>(size) + 1);
  std::size_t used = 0;
  while (used < buffer.size()) {
    const ssize_t got = read(file.get(), buffer.data() + used, buffer.size() - used);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return failed_errno("read", errno);
    used += static_cast<std::size_t>(got);
    // Once stat's size has arrived, no second call just to see 0 (a grown file shows in
    // the extra byte asked for, and changes its identity for the next run anyway).
    if (got == 0 || used >= size) break;
  }
  if (used > size) return failed(CertFailure::other, "the file changed while it was read");
  return parse_certificates(std::string_view(buffer.data(), used), memo);
}

}  // namespace

FileScan read_certificate_file(const std::string& path, std::uint64_t max_bytes, CertificateMemo* memo) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return failed_errno("stat", errno);
  return read_stated(path, info, max_bytes, memo);
}

std::shared_ptr<const FileScan> CertificateFileCache::scan(const std::string& path, std::uint64_t max_bytes) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    entries_.erase(path);
    return std::make_shared<const FileScan>(failed_errno("stat", errno));
  }
  const FileIdentity identity = identity_of(info);
  const auto found = entries_.find(path);
  if (found != entries_.end() && found->second.identity == identity) {
    found->second.seen = true;
    return found->second.scan;
  }
  auto scan = std::make_shared<const FileScan>(read_stated(path, info, max_bytes, &memo_));
  entries_.insert_or_assign(path, Entry{identity, scan, true});
  return scan;
}

void CertificateFileCache::forget_unseen() {
  memo_.clear();
  std::erase_if(entries_, [](const auto& entry) { return !entry.second.seen; });
  for (auto& [path, entry] : entries_) entry.seen = false;
}

}  // namespace assets
