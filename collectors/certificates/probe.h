#pragma once
// One TLS handshake with a live endpoint to read the chain it serves. The handshake
// accepts any chain; verification against the trust store and the host-name check are
// recorded beside the certificates, so an expired, self-signed or wrong-host chain still
// yields every certificate's dates.
#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "agent/host_port.h"
#include "collectors/certificates/parse.h"

namespace assets {

// The client side of the handshake for one trust store: the system's, or a ca_file.
// Shared by concurrent probes (an SSL_CTX is safe to share once set up).
class TlsClient {
 public:
  // ca_file empty: the system trust store. A ca_file that cannot be loaded leaves the store
  // empty (every chain then fails verification) and says why in load_error().
  explicit TlsClient(const std::string& ca_file);
  SSL_CTX* context() const { return context_.get(); }
  const std::string& load_error() const { return load_error_; }

 private:
  struct Free {
    void operator()(SSL_CTX* context) const;
  };
  std::unique_ptr<SSL_CTX, Free> context_;
  std::string load_error_;
};

// Why a served chain did not verify: the reason label of assets_cert_verify_failure.
enum class VerifyFailure { none, expired, not_yet_valid, hostname_mismatch, self_signed, unknown_ca, incomplete_chain, other };
std::string_view to_string(VerifyFailure failure);

// From OpenSSL's verify result. An issuer not found is told apart by where the chain
// OpenSSL built stops: at a CA certificate, the chain reached a CA the trust store does
// not know (unknown_ca); at the leaf, the server left its intermediates out (as nginx
// does given cert.pem in place of fullchain.pem) or sent the wrong ones (incomplete_chain).
// A leaf signed directly by an unknown root reads as incomplete_chain too: the chain alone
// cannot tell them apart. Only a self-signed leaf is self_signed; a served chain ending at
// an unknown self-signed root is unknown_ca.
VerifyFailure classify_verify_result(long verify_result, bool chain_ends_at_ca);

struct ProbeRequest {
  std::string address;      // host:port
  std::string server_name;  // SNI and host-name check; empty: the host of address
  std::chrono::steady_clock::time_point deadline;
};

struct ProbeOutcome {
  CertFailure failure = CertFailure::none;  // none: the handshake completed
  std::string detail;                       // why it failed
  std::vector<CertificateRecord> chain;     // as served, leaf first
  bool verified = false;
  std::string verify_error;  // why verification failed; empty when verified
  VerifyFailure verify_failure = VerifyFailure::none;
  std::string protocol;      // e.g. TLSv1.3
};

// Resolves, connects and handshakes without blocking past the deadline or a stop request.
ProbeOutcome probe_tls_endpoint(const ProbeRequest& request, const TlsClient& client, std::stop_token stop);

}  // namespace assets
