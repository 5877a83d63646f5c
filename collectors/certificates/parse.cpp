#include "collectors/certificates/parse.h"

#include <algorithm>
#include <ctime>
#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/reason.h"
#include "agent/utf8.h"

namespace assets {
namespace {

constexpr std::string_view kPemBegin = "-----BEGIN ";
constexpr std::string_view kPemDashes = "-----";

// Length of the UTF-8 sequence at text[i], or 0 when it is not one.
// Label values must be UTF-8; a certificate's strings are whatever its issuer wrote.
std::string printable_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7E) c = '?';
  }
  return out;
}

std::string print_name(const X509_NAME* name, unsigned long flags) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) return {};
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(length));
}

std::string name_to_string(const X509_NAME* name) {
  // RFC 2253 with UTF-8 kept; strings that do not convert fall back to \XX escapes.
  std::string text = print_name(name, XN_FLAG_RFC2253 & ~static_cast<unsigned long>(ASN1_STRFLGS_ESC_MSB));
  if (text.empty() || !is_valid_utf8(text)) text = printable_ascii(print_name(name, XN_FLAG_RFC2253));
  return text;
}

std::string common_name(const X509_NAME* name) {
  // The last CN, as Go's crypto/x509 (and so the other exporters) report it.
  int index = -1;
  int found = -1;
  while ((index = X509_NAME_get_index_by_NID(name, NID_commonName, index)) >= 0) found = index;
  if (found < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, found));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    ERR_clear_error();
    return printable_ascii(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                                            static_cast<std::size_t>(ASN1_STRING_length(data))));
  }
  std::string text(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return is_valid_utf8(text) ? text : printable_ascii(text);
}

// A DER TLV: the certificate is split with this reader instead of d2i_X509, which in
// OpenSSL 3 decodes the public key through the provider machinery (~120 us a certificate,
// most of a cold scan). The parts are then decoded one by one with OpenSSL's d2i functions.
struct Tlv {
  unsigned char tag = 0;
  std::string_view content;
  std::string_view whole;  // tag, length and content
};

constexpr unsigned char kSequence = 0x30;
constexpr unsigned char kInteger = 0x02;
constexpr unsigned char kBitString = 0x03;
constexpr unsigned char kOctetString = 0x04;
constexpr unsigned char kBoolean = 0x01;
constexpr unsigned char kObjectId = 0x06;
constexpr unsigned char kUtcTime = 0x17;
constexpr unsigned char kGeneralizedTime = 0x18;
constexpr unsigned char kVersionTag = 0xA0;     // [0] EXPLICIT
constexpr unsigned char kExtensionsTag = 0xA3;  // [3] EXPLICIT
constexpr std::string_view kSubjectAltNameOid = "\x55\x1D\x11";  // 2.5.29.17

unsigned char byte_at(std::string_view data, std::size_t index) { return static_cast<unsigned char>(data[index]); }

std::optional<Tlv> read_tlv(std::string_view& rest) {
  if (rest.size() < 2) return std::nullopt;
  const unsigned char tag = byte_at(rest, 0);
  if ((tag & 0x1F) == 0x1F) return std::nullopt;  // high tag numbers never occur in certificates
  std::size_t length = byte_at(rest, 1);
  std::size_t header = 2;
  if ((length & 0x80) != 0) {
    const std::size_t count = length & 0x7F;
    // Zero counts are BER's indefinite length, not DER.
    if (count == 0 || count > 4 || rest.size() < 2 + count) return std::nullopt;
    length = 0;
    for (std::size_t i = 0; i < count; ++i) length = (length << 8) | byte_at(rest, 2 + i);
    header += count;
  }
  if (rest.size() - header < length) return std::nullopt;
  Tlv tlv{tag, rest.substr(header, length), rest.substr(0, header + length)};
  rest.remove_prefix(header + length);
  return tlv;
}

std::optional<Tlv> read_tlv(std::string_view& rest, unsigned char tag) {
  std::string_view copy = rest;
  auto tlv = read_tlv(copy);
  if (!tlv || tlv->tag != tag) return std::nullopt;
  rest = copy;
  return tlv;
}

const unsigned char* der_bytes(std::string_view data) { return reinterpret_cast<const unsigned char*>(data.data()); }
long der_length(std::string_view data) { return static_cast<long>(data.size()); }

template <typename T, void (*Free)(T*)>
struct OpenSslFree {
  void operator()(T* pointer) const { Free(pointer); }
};
using NamePtr = std::unique_ptr<X509_NAME, OpenSslFree<X509_NAME, X509_NAME_free>>;

NamePtr decode_name(const Tlv& tlv) {
  const unsigned char* cursor = der_bytes(tlv.whole);
  NamePtr name(d2i_X509_NAME(nullptr, &cursor, der_length(tlv.whole)));
  if (!name) ERR_clear_error();
  return name;
}

std::optional<double> decode_time(const Tlv& tlv) {
  if (tlv.tag != kUtcTime && tlv.tag != kGeneralizedTime) return std::nullopt;
  const unsigned char* cursor = der_bytes(tlv.whole);
  const std::unique_ptr<ASN1_TIME, OpenSslFree<ASN1_TIME, ASN1_TIME_free>> time(
      d2i_ASN1_TIME(nullptr, &cursor, der_length(tlv.whole)));
  if (!time) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::tm broken_down{};
  if (ASN1_TIME_to_tm(time.get(), &broken_down) != 1) return std::nullopt;
  return static_cast<double>(timegm(&broken_down));
}

std::optional<std::string> decode_serial(const Tlv& tlv) {
  const unsigned char* cursor = der_bytes(tlv.whole);
  const std::unique_ptr<ASN1_INTEGER, OpenSslFree<ASN1_INTEGER, ASN1_INTEGER_free>> serial(
      d2i_ASN1_INTEGER(nullptr, &cursor, der_length(tlv.whole)));
  const std::unique_ptr<BIGNUM, OpenSslFree<BIGNUM, BN_free>> number(
      serial ? ASN1_INTEGER_to_BN(serial.get(), nullptr) : nullptr);
  char* hex = number ? BN_bn2hex(number.get()) : nullptr;
  if (hex == nullptr) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string text(hex);
  OPENSSL_free(hex);
  return text;
}

int object_nid(const Tlv& tlv) {
  if (tlv.tag != kObjectId) return NID_undef;
  const unsigned char* cursor = der_bytes(tlv.whole);
  const std::unique_ptr<ASN1_OBJECT, OpenSslFree<ASN1_OBJECT, ASN1_OBJECT_free>> object(
      d2i_ASN1_OBJECT(nullptr, &cursor, der_length(tlv.whole)));
  if (!object) {
    ERR_clear_error();
    return NID_undef;
  }
  return OBJ_obj2nid(object.get());
}

// Bit length of an unsigned big-endian INTEGER's content (leading zero octets ignored).
int integer_bits(std::string_view content) {
  while (!content.empty() && content.front() == '\0') content.remove_prefix(1);
  if (content.empty()) return 0;
  int bits = static_cast<int>((content.size() - 1) * 8);
  for (unsigned first = byte_at(content, 0); first != 0; first >>= 1) ++bits;
  return bits;
}

// Bits of the first INTEGER in a SEQUENCE: an RSA modulus, a DSA prime.
int first_integer_bits(std::string_view sequence_der) {
  auto sequence = read_tlv(sequence_der, kSequence);
  if (!sequence) return 0;
  std::string_view inside = sequence->content;
  auto first = read_tlv(inside, kInteger);
  return first ? integer_bits(first->content) : 0;
}

std::string key_type(const Tlv& public_key_info) {
  std::string_view inside = public_key_info.content;
  auto algorithm = read_tlv(inside, kSequence);
  auto key = read_tlv(inside, kBitString);
  if (!algorithm || !key || key->content.empty()) return "unknown";
  std::string_view algorithm_inside = algorithm->content;
  auto oid = read_tlv(algorithm_inside, kObjectId);
  if (!oid) return "unknown";
  auto parameters = read_tlv(algorithm_inside);
  const std::string_view key_bits = key->content.substr(1);  // after the unused-bits octet
  const int nid = object_nid(*oid);
  switch (nid) {
    case NID_rsaEncryption: return "RSA-" + std::to_string(first_integer_bits(key_bits));
    case NID_rsassaPss: return "RSA-PSS-" + std::to_string(first_integer_bits(key_bits));
    case NID_dsa: return "DSA-" + std::to_string(parameters ? first_integer_bits(parameters->whole) : 0);
    case NID_ED25519: return "Ed25519";
    case NID_ED448: return "Ed448";
    case NID_X9_62_id_ecPublicKey: {
      const int curve = parameters ? object_nid(*parameters) : NID_undef;
      if (curve == NID_undef) return "ECDSA";
      const char* nist = EC_curve_nid2nist(curve);
      return std::string("ECDSA-") + (nist != nullptr ? nist : OBJ_nid2sn(curve));
    }
    default: return nid == NID_undef ? "unknown" : OBJ_nid2sn(nid);
  }
}

std::vector<std::string> dns_names(std::string_view extensions_der) {
  std::vector<std::string> names;
  auto extensions = read_tlv(extensions_der, kSequence);
  if (!extensions) return names;
  std::string_view rest = extensions->content;
  while (auto extension = read_tlv(rest, kSequence)) {
    std::string_view inside = extension->content;
    auto oid = read_tlv(inside, kObjectId);
    if (!oid || oid->content != kSubjectAltNameOid) continue;
    read_tlv(inside, kBoolean);  // critical, when present
    auto value = read_tlv(inside, kOctetString);
    if (!value) return names;
    const unsigned char* cursor = der_bytes(value->content);
    GENERAL_NAMES* general_names = d2i_GENERAL_NAMES(nullptr, &cursor, der_length(value->content));
    if (general_names == nullptr) {
      ERR_clear_error();
      return names;
    }
    for (int i = 0; i < sk_GENERAL_NAME_num(general_names); ++i) {
      const GENERAL_NAME* entry = sk_GENERAL_NAME_value(general_names, i);
      if (entry->type != GEN_DNS) continue;
      const ASN1_IA5STRING* dns = entry->d.dNSName;
      names.push_back(printable_ascii(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                                       static_cast<std::size_t>(ASN1_STRING_length(dns)))));
    }
    GENERAL_NAMES_free(general_names);
    return names;
  }
  return names;
}

bool is_certificate_label(std::string_view label) {
  return label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE";
}

std::optional<std::string> decode_base64(std::string_view text) {
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> context(EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!context || text.size() > static_cast<std::size_t>(INT32_MAX)) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  auto* output = reinterpret_cast<unsigned char*>(out.data());
  int written = 0;
  int final_written = 0;
  EVP_DecodeInit(context.get());
  if (EVP_DecodeUpdate(context.get(), output, &written, reinterpret_cast<const unsigned char*>(text.data()),
                       static_cast<int>(text.size())) < 0 ||
      EVP_DecodeFinal(context.get(), output + written, &final_written) != 1) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(written + final_written));
  return out;
}

std::optional<CertificateRecord> describe_der(std::string_view der, int chain_index) {
  auto certificate = read_tlv(der, kSequence);
  if (!certificate) return std::nullopt;
  std::string_view parts = certificate->content;
  const auto tbs = read_tlv(parts, kSequence);
  if (!tbs || !read_tlv(parts, kSequence) || !read_tlv(parts, kBitString) || !parts.empty()) return std::nullopt;
  std::string_view fields = tbs->content;
  read_tlv(fields, kVersionTag);
  const auto serial = read_tlv(fields, kInteger);
  const auto signature = read_tlv(fields, kSequence);
  const auto issuer = read_tlv(fields, kSequence);
  const auto validity = read_tlv(fields, kSequence);
  const auto subject = read_tlv(fields, kSequence);
  const auto public_key = read_tlv(fields, kSequence);
  if (!serial || !signature || !issuer || !validity || !subject || !public_key) return std::nullopt;
  std::string_view extensions;
  while (const auto optional_field = read_tlv(fields)) {
    if (optional_field->tag == kExtensionsTag) extensions = optional_field->content;
  }
  if (!fields.empty()) return std::nullopt;

  std::string_view times = validity->content;
  const auto not_before_field = read_tlv(times);
  const auto not_after_field = read_tlv(times);
  const auto not_before = not_before_field ? decode_time(*not_before_field) : std::nullopt;
  const auto not_after = not_after_field ? decode_time(*not_after_field) : std::nullopt;
  const NamePtr subject_name = decode_name(*subject);
  const NamePtr issuer_name = decode_name(*issuer);
  auto serial_text = decode_serial(*serial);
  if (!not_before || !not_after || !subject_name || !issuer_name || !serial_text) return std::nullopt;

  CertificateRecord record;
  record.chain_index = chain_index;
  record.subject = name_to_string(subject_name.get());
  record.issuer = name_to_string(issuer_name.get());
  record.subject_cn = common_name(subject_name.get());
  record.issuer_cn = common_name(issuer_name.get());
  record.serial = std::move(*serial_text);
  record.not_before = *not_before;
  record.not_after = *not_after;
  record.dns_names = dns_names(extensions);
  record.key_type = key_type(*public_key);
  return record;
}

std::optional<CertificateRecord> describe_memoized(std::string_view der, int chain_index, CertificateMemo* memo) {
  if (memo == nullptr || chain_index == 0) return describe_der(der, chain_index);
  // The memo is keyed by the certificate alone, without trailing trust settings.
  std::string_view rest = der;
  const auto certificate = read_tlv(rest, kSequence);
  if (!certificate) return std::nullopt;
  if (const CertificateRecord* known = memo->find(certificate->whole)) {
    CertificateRecord record = *known;
    record.chain_index = chain_index;
    return record;
  }
  auto record = describe_der(certificate->whole, chain_index);
  if (record) memo->add(certificate->whole, *record);
  return record;
}

void fail(ParsedCertificates& result, CertFailure failure, std::string detail) {
  // The first problem is the one reported; later ones are usually its consequence.
  if (result.failure != CertFailure::none) return;
  result.failure = failure;
  result.detail = std::move(detail);
}

ParsedCertificates parse_pem(std::string_view text, CertificateMemo* memo) {
  ParsedCertificates result;
  int certificate_blocks = 0;
  std::size_t position = text.find(kPemBegin);
  while (position != std::string_view::npos) {
    const std::size_t label_start = position + kPemBegin.size();
    const std::size_t label_end = text.find(kPemDashes, label_start);
    const std::size_t line_end = text.find('\n', label_start);
    if (label_end == std::string_view::npos || (line_end != std::string_view::npos && label_end > line_end)) {
      fail(result, CertFailure::bad_pem, "malformed BEGIN line");
      position = text.find(kPemBegin, label_start);
      continue;
    }
    const std::string_view label = text.substr(label_start, label_end - label_start);
    const std::size_t body_start = label_end + kPemDashes.size();
    const std::string end_line = "-----END " + std::string(label) + "-----";
    const std::size_t end = text.find(end_line, body_start);
    const std::size_t next_begin = text.find(kPemBegin, body_start);
    const bool certificate = is_certificate_label(label);
    const int chain_index = certificate ? certificate_blocks++ : -1;
    if (end == std::string_view::npos || (next_begin != std::string_view::npos && next_begin < end)) {
      // A truncated block; the blocks after it are still read.
      fail(result, CertFailure::bad_pem,
           certificate ? "certificate " + std::to_string(chain_index) + " has no END line (truncated?)"
                       : "a " + std::string(label) + " block has no END line (truncated?)");
      position = next_begin;
      continue;
    }
    position = text.find(kPemBegin, end + end_line.size());
    // Private keys and other blocks are skipped without decoding.
    if (!certificate) continue;
    // A TRUSTED CERTIFICATE carries trust settings after the certificate; they are ignored.
    const auto der = decode_base64(text.substr(body_start, end - body_start));
    auto record = der ? describe_memoized(*der, chain_index, memo) : std::nullopt;
    if (!record) {
      fail(result, CertFailure::bad_pem, "certificate " + std::to_string(chain_index) + " does not decode");
      continue;
    }
    result.certificates.push_back(std::move(*record));
  }
  if (certificate_blocks == 0) fail(result, CertFailure::bad_pem, "no CERTIFICATE block in the PEM data");
  return result;
}

ParsedCertificates parse_der(std::string_view bytes, CertificateMemo* memo) {
  ParsedCertificates result;
  // Concatenated DER certificates are read one after the other.
  for (int chain_index = 0; !bytes.empty(); ++chain_index) {
    const auto certificate = read_tlv(bytes, kSequence);
    auto record = certificate ? describe_memoized(certificate->whole, chain_index, memo) : std::nullopt;
    if (!record) {
      fail(result, CertFailure::bad_der, "DER certificate " + std::to_string(chain_index) + " does not decode");
      break;
    }
    result.certificates.push_back(std::move(*record));
  }
  return result;
}

bool looks_like_text(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 || byte == '\n' || byte == '\r' || byte == '\t';
  });
}

}  // namespace

std::string_view to_string(CertFailure failure) {
  switch (failure) {
    case CertFailure::none: return "";
    case CertFailure::not_found: return reason::kNotFound;
    case CertFailure::permission_denied: return reason::kPermissionDenied;
    case CertFailure::empty: return "empty";
    case CertFailure::bad_pem: return "bad_pem";
    case CertFailure::bad_der: return "bad_der";
    case CertFailure::timeout: return reason::kTimeout;
    case CertFailure::refused: return reason::kRefused;
    case CertFailure::dns: return reason::kDns;
    case CertFailure::tls_handshake: return "tls_handshake";
    case CertFailure::other: return reason::kOther;
  }
  return reason::kOther;
}

std::optional<CertificateRecord> describe_certificate(std::string_view der, int chain_index) {
  return describe_der(der, chain_index);
}

std::optional<CertificateRecord> describe_certificate(const X509& certificate, int chain_index) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(&certificate, &der);
  if (length <= 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  auto record = describe_der(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length)),
                             chain_index);
  OPENSSL_free(der);
  return record;
}

const CertificateRecord* CertificateMemo::find(std::string_view der) const {
  const auto found = records_.find(der);
  return found == records_.end() ? nullptr : &found->second;
}

void CertificateMemo::add(std::string_view der, const CertificateRecord& record) {
  if (records_.size() < max_entries_) records_.emplace(std::string(der), record);
}

ParsedCertificates parse_certificates(std::string_view bytes, CertificateMemo* memo) {
  const auto first = bytes.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    ParsedCertificates result;
    result.failure = CertFailure::empty;
    result.detail = "the file is empty";
    return result;
  }
  if (bytes.find(kPemBegin) != std::string_view::npos) return parse_pem(bytes, memo);
  if (static_cast<unsigned char>(bytes[0]) == 0x30) return parse_der(bytes, memo);
  ParsedCertificates result;
  const bool text = looks_like_text(bytes.substr(0, 4096));
  result.failure = text ? CertFailure::bad_pem : CertFailure::bad_der;
  result.detail = text ? "text without a PEM block" : "binary data that is not a DER certificate";
  return result;
}

}  // namespace assets
