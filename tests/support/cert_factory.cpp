#include "tests/support/cert_factory.h"

#include <array>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace assets::testing {
namespace {

[[noreturn]] void throw_openssl(const std::string& what) {
  std::array<char, 256> text{};
  ERR_error_string_n(ERR_get_error(), text.data(), text.size());
  ERR_clear_error();
  throw std::runtime_error(what + ": " + text.data());
}

template <typename Write>
std::string to_bio_text(Write write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || write(bio.get()) != 1) throw_openssl("writing PEM");
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context{};
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) throw_openssl("extension " + value);
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

void set_serial(X509* certificate, const std::optional<std::uint64_t>& serial) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> number(BN_new(), BN_free);
  if (serial) {
    BN_set_word(number.get(), *serial);
  } else {
    std::array<unsigned char, 16> random{};
    RAND_bytes(random.data(), static_cast<int>(random.size()));
    random[0] &= 0x7F;  // positive, as RFC 5280 wants
    BN_bin2bn(random.data(), static_cast<int>(random.size()), number.get());
  }
  BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(certificate));
}

std::string san_value(const CertificateSpec& spec) {
  std::string value;
  for (const auto& name : spec.dns_names) value += (value.empty() ? "" : ",") + std::string("DNS:") + name;
  for (const auto& ip : spec.ip_addresses) value += (value.empty() ? "" : ",") + std::string("IP:") + ip;
  return value;
}

}  // namespace

PrivateKey PrivateKey::generate(KeyAlgorithm algorithm) {
  EVP_PKEY* key = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::rsa2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}); break;
    case KeyAlgorithm::ecdsa_p256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyAlgorithm::ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
  }
  if (key == nullptr) throw_openssl("key generation");
  return PrivateKey(std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free));
}

PrivateKey PrivateKey::shared(KeyAlgorithm algorithm) {
  static std::mutex mutex;
  static std::map<KeyAlgorithm, PrivateKey> keys;
  const std::lock_guard lock(mutex);
  auto found = keys.find(algorithm);
  if (found == keys.end()) found = keys.emplace(algorithm, generate(algorithm)).first;
  return found->second;
}

std::string PrivateKey::pem() const {
  return to_bio_text(
      [&](BIO* bio) { return PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr); });
}

TimePoint from_now(std::chrono::seconds offset) { return std::chrono::system_clock::now() + offset; }

double to_unix_seconds(TimePoint time) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count());
}

Certificate Certificate::make(const CertificateSpec& spec, const Certificate* issuer) {
  PrivateKey key = spec.key ? *spec.key : PrivateKey::generate(spec.algorithm);
  std::shared_ptr<X509> certificate(X509_new(), X509_free);
  if (!certificate) throw_openssl("X509_new");
  X509* cert = certificate.get();
  X509_set_version(cert, X509_VERSION_3);
  set_serial(cert, spec.serial);
  ASN1_TIME_set(X509_getm_notBefore(cert), std::chrono::system_clock::to_time_t(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), std::chrono::system_clock::to_time_t(spec.not_after));
  X509_NAME* name = X509_get_subject_name(cert);
  const auto add_name = [&](const char* field, const std::string& value) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                               -1, 0);
  };
  if (!spec.organization.empty()) add_name("O", spec.organization);
  if (!spec.common_name.empty()) add_name("CN", spec.common_name);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer->get()) : name);
  X509_set_pubkey(cert, key.get());

  X509* signer_certificate = issuer != nullptr ? issuer->get() : cert;
  add_extension(cert, signer_certificate, NID_subject_key_identifier, "hash");
  add_extension(cert, signer_certificate, NID_authority_key_identifier, "keyid:always");
  if (spec.is_ca) {
    add_extension(cert, signer_certificate, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, signer_certificate, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    add_extension(cert, signer_certificate, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert, signer_certificate, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  if (const std::string san = san_value(spec); !san.empty()) {
    add_extension(cert, signer_certificate, NID_subject_alt_name, san);
  }

  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key().get() : key.get();
  // Ed25519 signs the message itself, so it takes no digest.
  const EVP_MD* digest = EVP_PKEY_get_base_id(signing_key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  if (X509_sign(cert, signing_key, digest) <= 0) throw_openssl("X509_sign");
  return Certificate(std::move(certificate), std::move(key));
}

std::string Certificate::pem() const {
  return to_bio_text([&](BIO* bio) { return PEM_write_bio_X509(bio, certificate_.get()); });
}

std::string Certificate::der() const {
  unsigned char* data = nullptr;
  const int length = i2d_X509(certificate_.get(), &data);
  if (length <= 0) throw_openssl("i2d_X509");
  std::string out(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
  OPENSSL_free(data);
  return out;
}

std::string Certificate::serial_hex() const {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> number(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate_.get()), nullptr), BN_free);
  char* hex = BN_bn2hex(number.get());
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::string CertificateChain::full_chain_pem() const { return leaf.pem() + intermediate.pem(); }

CertificateChain make_chain(CertificateSpec leaf, CertificateSpec intermediate, CertificateSpec root) {
  const std::string default_name = CertificateSpec{}.common_name;
  root.is_ca = true;
  intermediate.is_ca = true;
  if (root.common_name == default_name) root.common_name = "Assets Test Root CA";
  if (intermediate.common_name == default_name) intermediate.common_name = "Assets Test Intermediate CA";
  Certificate root_certificate = Certificate::make(root);
  Certificate intermediate_certificate = Certificate::make(intermediate, &root_certificate);
  Certificate leaf_certificate = Certificate::make(leaf, &intermediate_certificate);
  return CertificateChain{std::move(root_certificate), std::move(intermediate_certificate), std::move(leaf_certificate)};
}

void write_file(const std::filesystem::path& path, std::string_view contents) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace assets::testing
