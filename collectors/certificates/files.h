#pragma once
// Reads certificate files with a size limit and keeps each file's parse keyed by what stat
// sees through symlinks (device, inode, size, mtime): an unchanged file is not read again,
// and a certbot link swap (new inode) is read at the next run.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "collectors/certificates/parse.h"

namespace assets {

struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

// One file's outcome: failure none with the certificates, or why it could not be used
// (then `certificates` holds those that did parse, if any).
using FileScan = ParsedCertificates;

// Reads one file (no cache). The read buffer is wiped before it is freed, since a PEM
// bundle may hold a private key.
FileScan read_certificate_file(const std::string& path, std::uint64_t max_bytes, CertificateMemo* memo = nullptr);

class CertificateFileCache {
 public:
  // The file's certificates, read again only when its identity changed.
  std::shared_ptr<const FileScan> scan(const std::string& path, std::uint64_t max_bytes);
  // Drops entries of paths that scan() did not see since the last call, so the cache
  // never outgrows the current set of matched files; also empties the memo of shared
  // certificates, which only needs to last one run.
  void forget_unseen();
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    FileIdentity identity;
    std::shared_ptr<const FileScan> scan;
    bool seen = true;
  };
  std::map<std::string, Entry, std::less<>> entries_;
  CertificateMemo memo_;
};

}  // namespace assets
