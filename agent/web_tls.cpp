#include "agent/web_tls.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "agent/log.h"
#include "agent/openssl_errors.h"

namespace assets {
namespace {

std::string openssl_reason() {
  std::string text = openssl_errors();
  return text.empty() ? "unknown error" : text;
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const { Free(pointer); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

void free_chain(STACK_OF(X509) * chain) { sk_X509_pop_free(chain, X509_free); }
void free_names(STACK_OF(X509_NAME) * names) { sk_X509_NAME_pop_free(names, X509_NAME_free); }

// The session id context: a resumed session must come from this server, which OpenSSL
// insists on once client certificates are asked for.
constexpr unsigned char kSessionContext[] = "assets-agent";

}  // namespace

struct TlsServerContext::Credentials {
  FileStamp cert_stamp;
  FileStamp key_stamp;
  FileStamp ca_stamp;
  std::unique_ptr<X509, Deleter<X509, X509_free>> leaf;
  std::unique_ptr<STACK_OF(X509), Deleter<STACK_OF(X509), free_chain>> chain;
  std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>> key;
  std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>> client_cas;  // null without client_ca_file
  // The CAs' names, sent in the certificate request so a client picks the right certificate.
  std::unique_ptr<STACK_OF(X509_NAME), Deleter<STACK_OF(X509_NAME), free_names>> client_ca_names;
};

std::optional<TlsServerContext::FileStamp> TlsServerContext::stamp_of(const std::string& path) {
  struct stat status {};
  if (path.empty() || stat(path.c_str(), &status) != 0) return std::nullopt;
  return FileStamp{status.st_dev, status.st_ino, status.st_size,
                   static_cast<std::int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 + status.st_mtim.tv_nsec};
}

std::shared_ptr<const TlsServerContext::Credentials> TlsServerContext::load() const {
  auto loaded = std::make_shared<Credentials>();
  const auto fail = [](const std::string& what, const std::string& path) {
    throw std::runtime_error(what + " " + path + ": " + openssl_reason());
  };
  // Stamps first: a file replaced while it is read is read again at the next handshake.
  loaded->cert_stamp = stamp_of(config_.cert_file).value_or(FileStamp{});
  loaded->key_stamp = stamp_of(config_.key_file).value_or(FileStamp{});
  loaded->ca_stamp = stamp_of(config_.client_ca_file).value_or(FileStamp{});

  BioPtr cert_file(BIO_new_file(config_.cert_file.c_str(), "r"));
  if (!cert_file) fail("cannot open cert_file", config_.cert_file);
  loaded->leaf.reset(PEM_read_bio_X509_AUX(cert_file.get(), nullptr, nullptr, nullptr));
  if (!loaded->leaf) fail("no certificate in cert_file", config_.cert_file);
  loaded->chain.reset(sk_X509_new_null());
  while (X509* intermediate = PEM_read_bio_X509(cert_file.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(loaded->chain.get(), intermediate);
  }
  ERR_clear_error();  // the end of the file ends the loop with an error

  BioPtr key_file(BIO_new_file(config_.key_file.c_str(), "r"));
  if (!key_file) fail("cannot open key_file", config_.key_file);
  loaded->key.reset(PEM_read_bio_PrivateKey(key_file.get(), nullptr, nullptr, nullptr));
  if (!loaded->key) fail("no private key in key_file", config_.key_file);
  if (X509_check_private_key(loaded->leaf.get(), loaded->key.get()) != 1) {
    fail("key_file does not match cert_file", config_.key_file);
  }
  if (!config_.client_ca_file.empty()) {
    loaded->client_cas.reset(X509_STORE_new());
    if (X509_STORE_load_file(loaded->client_cas.get(), config_.client_ca_file.c_str()) != 1) {
      fail("cannot load client_ca_file", config_.client_ca_file);
    }
    // Every certificate of the file is a trust anchor, intermediates included, as Go's
    // ClientCAs pool (and so node_exporter) treats them.
    X509_STORE_set_flags(loaded->client_cas.get(), X509_V_FLAG_PARTIAL_CHAIN);
    loaded->client_ca_names.reset(SSL_load_client_CA_file(config_.client_ca_file.c_str()));
    ERR_clear_error();
  }
  return loaded;
}

std::shared_ptr<const TlsServerContext::Credentials> TlsServerContext::current() {
  std::lock_guard lock(mutex_);
  const bool changed = stamp_of(config_.cert_file).value_or(FileStamp{}) != credentials_->cert_stamp ||
                       stamp_of(config_.key_file).value_or(FileStamp{}) != credentials_->key_stamp ||
                       stamp_of(config_.client_ca_file).value_or(FileStamp{}) != credentials_->ca_stamp;
  if (changed) {
    try {
      credentials_ = load();
      log::info("TLS certificate files changed; serving the new ones", {{"cert_file", config_.cert_file}});
    } catch (const std::exception& e) {
      // A certificate and key swapped one at a time do not match for a moment: the old
      // pair is served until the new one loads. Said once per state of the files, since
      // every handshake tries again.
      const auto stamps = std::array{stamp_of(config_.cert_file).value_or(FileStamp{}),
                                     stamp_of(config_.key_file).value_or(FileStamp{}),
                                     stamp_of(config_.client_ca_file).value_or(FileStamp{})};
      if (stamps != last_failed_stamps_) {
        last_failed_stamps_ = stamps;
        log::warn("TLS certificate files changed but cannot be used; serving the previous ones", {{"error", e.what()}});
      }
    }
  }
  return credentials_;
}

TlsServerContext::TlsServerContext(const TlsServerConfig& config) : config_(config) {
  credentials_ = load();
  context_ = SSL_CTX_new(TLS_server_method());
  if (context_ == nullptr) throw std::runtime_error("TLS setup: " + openssl_reason());
  SSL_CTX_set_app_data(context_, this);
  SSL_CTX_set_min_proto_version(context_, config_.min_version);
  SSL_CTX_set_max_proto_version(context_, config_.max_version);
  SSL_CTX_set_options(context_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (config_.prefer_server_cipher_suites) SSL_CTX_set_options(context_, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (!config_.cipher_suites.empty()) {
    // Go's names are IANA's; OpenSSL's cipher list takes its own names for the same suites.
    std::string list;
    SSL_CTX_set_cipher_list(context_, "ALL");
    const STACK_OF(SSL_CIPHER)* all = SSL_CTX_get_ciphers(context_);
    for (const std::string& wanted : config_.cipher_suites) {
      for (int i = 0; i < sk_SSL_CIPHER_num(all); ++i) {
        const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(all, i);
        const char* standard = SSL_CIPHER_standard_name(cipher);
        if (standard != nullptr && wanted == standard) list += (list.empty() ? "" : ":") + std::string(SSL_CIPHER_get_name(cipher));
      }
    }
    if (SSL_CTX_set_cipher_list(context_, list.c_str()) != 1) throw std::runtime_error("cipher_suites: " + openssl_reason());
  }
  if (!config_.curve_preferences.empty()) {
    std::string groups;
    for (const std::string& group : config_.curve_preferences) groups += (groups.empty() ? "" : ":") + group;
    if (SSL_CTX_set1_groups_list(context_, groups.c_str()) != 1) {
      throw std::runtime_error("curve_preferences: " + openssl_reason());
    }
  }
  SSL_CTX_set_session_id_context(context_, kSessionContext, sizeof kSessionContext - 1);
  if (config_.client_auth != ClientAuth::none) {
    // A resumed session skips the client's chain: after the client CA file changes, a
    // client it no longer trusts would get in until its session expired.
    SSL_CTX_set_options(context_, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(context_, 0);
    SSL_CTX_set_session_cache_mode(context_, SSL_SESS_CACHE_OFF);
  }
  int mode = SSL_VERIFY_NONE;
  switch (config_.client_auth) {
    case ClientAuth::none: break;
    case ClientAuth::request:
    case ClientAuth::verify_if_given: mode = SSL_VERIFY_PEER; break;
    case ClientAuth::require_any:
    case ClientAuth::require_and_verify: mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT; break;
  }
  SSL_CTX_set_verify(context_, mode, mode == SSL_VERIFY_NONE ? nullptr : &TlsServerContext::on_verify);
  SSL_CTX_set_cert_cb(context_, &TlsServerContext::on_handshake, this);
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(context_); }

int TlsServerContext::on_handshake(SSL* ssl, void* self_pointer) {
  auto& self = *static_cast<TlsServerContext*>(self_pointer);
  const std::shared_ptr<const Credentials> credentials = self.current();
  if (SSL_use_cert_and_key(ssl, credentials->leaf.get(), credentials->key.get(), credentials->chain.get(), 1) != 1) {
    return 0;
  }
  if (credentials->client_cas) SSL_set1_verify_cert_store(ssl, credentials->client_cas.get());
  if (credentials->client_ca_names) SSL_set_client_CA_list(ssl, SSL_dup_CA_list(credentials->client_ca_names.get()));
  return 1;
}

int TlsServerContext::on_verify(int preverified, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const auto& self = *static_cast<const TlsServerContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const ClientAuth auth = self.config_.client_auth;
  // RequestClientCert and RequireAnyClientCert take any certificate, as in Go.
  if (auth == ClientAuth::request || auth == ClientAuth::require_any) return 1;
  if (preverified != 1) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0 || self.config_.client_allowed_sans.empty()) return 1;
  return self.allowed_san(X509_STORE_CTX_get_current_cert(store)) ? 1 : 0;
}

bool TlsServerContext::allowed_san(X509* certificate) const {
  // Any DNS name, e-mail address, IP address or URI of the client's certificate may match,
  // as exporter-toolkit's client_allowed_sans does.
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool allowed = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !allowed; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    std::string text;
    if (name->type == GEN_DNS || name->type == GEN_EMAIL || name->type == GEN_URI) {
      const ASN1_IA5STRING* value = name->d.ia5;
      text.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)), static_cast<std::size_t>(ASN1_STRING_length(value)));
    } else if (name->type == GEN_IPADD) {
      const int length = ASN1_STRING_length(name->d.ip);
      std::array<char, INET6_ADDRSTRLEN> buffer{};
      if ((length == 4 || length == 16) &&
          inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(name->d.ip), buffer.data(), buffer.size())) {
        text = buffer.data();
      }
    }
    allowed = !text.empty() && std::find(config_.client_allowed_sans.begin(), config_.client_allowed_sans.end(), text) !=
                                   config_.client_allowed_sans.end();
  }
  GENERAL_NAMES_free(names);
  return allowed;
}

}  // namespace assets
