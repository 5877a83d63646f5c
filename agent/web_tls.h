#pragma once
// The TLS side of the endpoints: one SSL_CTX built by the agent from tls_server_config and
// handed to civetweb (its external_ssl_ctx callback), so every setting is applied with
// the OpenSSL API as exporter-toolkit applies it with Go's. The certificate, its key and
// the client CA file are re-read when they change on disk, at the next handshake, so a
// renewed certificate is served without a restart.
#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <sys/stat.h>

#include <openssl/types.h>

#include "agent/web_config.h"

namespace assets {

class TlsServerContext {
 public:
  // Throws std::runtime_error naming the file and OpenSSL's reason when one cannot be used.
  explicit TlsServerContext(const TlsServerConfig& config);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  SSL_CTX* get() const { return context_; }

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t modified_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  struct Credentials;  // certificate chain, key and client CA store, as loaded
  static int on_handshake(SSL* ssl, void* self);
  static int on_verify(int preverified, X509_STORE_CTX* store);
  static std::optional<FileStamp> stamp_of(const std::string& path);
  std::shared_ptr<const Credentials> load() const;  // throws
  std::shared_ptr<const Credentials> current();
  bool allowed_san(X509* certificate) const;

  TlsServerConfig config_;
  SSL_CTX* context_ = nullptr;
  std::mutex mutex_;
  std::shared_ptr<const Credentials> credentials_;
  std::array<FileStamp, 3> last_failed_stamps_{};  // cert, key, CA as they were when loading last failed
};

}  // namespace assets
