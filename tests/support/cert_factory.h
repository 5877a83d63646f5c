#pragma once
// Keys and X.509 certificates made at test time with the OpenSSL 3 API: any validity
// window (past or future), RSA / ECDSA / Ed25519, self-signed or issued by another
// certificate (CA -> intermediate -> leaf), written as PEM or DER.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

namespace assets::testing {

enum class KeyAlgorithm { rsa2048, ecdsa_p256, ed25519 };

class PrivateKey {
 public:
  static PrivateKey generate(KeyAlgorithm algorithm);
  // One key per algorithm for the whole test process: RSA generation is slow, and most
  // tests only need distinct certificates, not distinct keys.
  static PrivateKey shared(KeyAlgorithm algorithm);

  std::string pem() const;  // PKCS#8 "PRIVATE KEY", unencrypted
  EVP_PKEY* get() const { return key_.get(); }

 private:
  explicit PrivateKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

using TimePoint = std::chrono::system_clock::time_point;
// now + offset, e.g. from_now(-std::chrono::days(30)).
TimePoint from_now(std::chrono::seconds offset);
double to_unix_seconds(TimePoint time);  // whole seconds, as a certificate stores them

struct CertificateSpec {
  std::string common_name = "assets.test";
  std::string organization;  // O=, omitted when empty
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  TimePoint not_before = from_now(-std::chrono::hours(1));
  TimePoint not_after = from_now(std::chrono::days(90));
  bool is_ca = false;
  std::optional<std::uint64_t> serial;  // random 128-bit when absent
  KeyAlgorithm algorithm = KeyAlgorithm::ecdsa_p256;
  std::optional<PrivateKey> key;  // a fresh key of `algorithm` when absent
};

class Certificate {
 public:
  // Self-signed when issuer is null; otherwise signed with the issuer's key.
  static Certificate make(const CertificateSpec& spec, const Certificate* issuer = nullptr);

  std::string pem() const;
  std::string der() const;
  std::string serial_hex() const;  // as `openssl x509 -noout -serial` prints it
  X509* get() const { return certificate_.get(); }
  const PrivateKey& key() const { return key_; }

 private:
  Certificate(std::shared_ptr<X509> certificate, PrivateKey key)
      : certificate_(std::move(certificate)), key_(std::move(key)) {}
  std::shared_ptr<X509> certificate_;
  PrivateKey key_;
};

// A root CA, an intermediate CA and a leaf for `names` (DNS names; the first is the CN).
// The leaf's validity comes from `leaf`, the CAs' from their own specs.
struct CertificateChain {
  Certificate root;
  Certificate intermediate;
  Certificate leaf;
  // leaf then intermediate, as a server sends it (fullchain.pem)
  std::string full_chain_pem() const;
};
CertificateChain make_chain(CertificateSpec leaf, CertificateSpec intermediate = {}, CertificateSpec root = {});

// Writes bytes to a file (parents created), replacing it.
void write_file(const std::filesystem::path& path, std::string_view contents);

}  // namespace assets::testing
