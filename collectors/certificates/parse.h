#pragma once
// Certificates out of bytes, without I/O: PEM bundles (every certificate block, in file
// order) and DER. Private-key blocks in a PEM bundle are stepped over and never decoded.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <openssl/types.h>

namespace assets {

// Why a certificate target failed; the names are the contract's `reason` label values.
enum class CertFailure { none, not_found, permission_denied, empty, bad_pem, bad_der, timeout, refused, dns, tls_handshake, other };
std::string_view to_string(CertFailure failure);

struct CertificateRecord {
  int chain_index = 0;  // position among the certificates of the file or served chain
  std::string subject;  // RFC 2253, UTF-8 where the certificate's strings allow it
  std::string issuer;
  std::string subject_cn;  // empty when the name has no CN
  std::string issuer_cn;
  std::string serial;  // upper-case hex, as `openssl x509 -noout -serial` prints it
  double not_before = 0;  // Unix seconds
  double not_after = 0;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::string key_type;  // RSA-2048, ECDSA-P-256, Ed25519, Ed448, DSA-2048, or the algorithm's short name
};

// Reads the fields the metrics need from one DER certificate; nullopt when it does not
// decode. Trailing bytes after the certificate (a TRUSTED CERTIFICATE's trust settings)
// are ignored.
std::optional<CertificateRecord> describe_certificate(std::string_view der, int chain_index);
std::optional<CertificateRecord> describe_certificate(const X509& certificate, int chain_index);

struct ParsedCertificates {
  std::vector<CertificateRecord> certificates;
  // Set when the bytes are empty, not a certificate format, or some certificate block does
  // not decode; the certificates that did decode are kept.
  CertFailure failure = CertFailure::none;
  std::string detail;  // never contains the bytes themselves
};

// Records of certificates already decoded, by their DER bytes: the same intermediate sits
// in every fullchain.pem of a host, so a scan decodes it once. Only certificates after
// the first of a bundle are kept (leaves are rarely shared), and at most max_entries of
// them. Not thread-safe.
class CertificateMemo {
 public:
  explicit CertificateMemo(std::size_t max_entries = 1024) : max_entries_(max_entries) {}
  const CertificateRecord* find(std::string_view der) const;
  void add(std::string_view der, const CertificateRecord& record);
  std::size_t size() const { return records_.size(); }
  void clear() { records_.clear(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view der) const { return std::hash<std::string_view>{}(der); }
  };
  std::size_t max_entries_;
  std::unordered_map<std::string, CertificateRecord, Hash, std::equal_to<>> records_;
};

// PEM when a "-----BEGIN " line is present, else DER. Text that is neither is bad_pem,
// binary that is neither is bad_der; whitespace only is empty. A memo, when given, is
// consulted and filled; the result is the same without one.
ParsedCertificates parse_certificates(std::string_view bytes, CertificateMemo* memo = nullptr);

}  // namespace assets
