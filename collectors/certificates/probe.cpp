#include "collectors/certificates/probe.h"

#include <cerrno>
#include <system_error>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "collectors/net/socket.h"
#include "agent/openssl_errors.h"
#include "collectors/net/tls.h"

namespace assets {
namespace {

struct Failure {
  CertFailure failure;
  std::string detail;
};

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

// The reason labels of assets_cert_target_failure for a failure of collectors/net: a stop
// ends a probe as its timeout would, and only a refused connection is `refused` (an
// unreachable network, or a connect() the kernel timed out, is `other`).
Failure failure_of(const net::Failure& failure) {
  switch (failure.kind) {
    case net::FailureKind::stopped:
    case net::FailureKind::timeout:
      return {CertFailure::timeout, failure.detail};
    case net::FailureKind::dns:
      return {CertFailure::dns, failure.detail};
    case net::FailureKind::connect:
      return {failure.connect_errno == ECONNREFUSED ? CertFailure::refused : CertFailure::other, failure.detail};
    case net::FailureKind::other:
      break;
  }
  return {CertFailure::other, failure.detail};
}

Failure wait_failure(net::WaitResult wait, std::string_view phase) {
  if (wait == net::WaitResult::stopped) return {CertFailure::timeout, "stopped during " + std::string(phase)};
  return {CertFailure::timeout, "timed out during " + std::string(phase)};
}

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

std::string handshake_error(SSL* ssl, int result) {
  const int error = SSL_get_error(ssl, result);
  const int saved_errno = errno;
  std::string library = openssl_errors();
  if (!library.empty()) return library;
  if (error == SSL_ERROR_ZERO_RETURN) return "the peer closed the connection during the handshake";
  if (error == SSL_ERROR_SYSCALL) {
    return saved_errno == 0 ? "the peer closed the connection during the handshake" : errno_text(saved_errno);
  }
  return "handshake failed (SSL error " + std::to_string(error) + ")";
}

}  // namespace

std::string_view to_string(VerifyFailure failure) {
  switch (failure) {
    case VerifyFailure::none: return "none";
    case VerifyFailure::expired: return "expired";
    case VerifyFailure::not_yet_valid: return "not_yet_valid";
    case VerifyFailure::hostname_mismatch: return "hostname_mismatch";
    case VerifyFailure::self_signed: return "self_signed";
    case VerifyFailure::unknown_ca: return "unknown_ca";
    case VerifyFailure::incomplete_chain: return "incomplete_chain";
    case VerifyFailure::other: return "other";
  }
  return "other";
}

VerifyFailure classify_verify_result(long verify_result, bool chain_ends_at_ca) {
  switch (verify_result) {
    case X509_V_OK: return VerifyFailure::none;
    case X509_V_ERR_CERT_HAS_EXPIRED: return VerifyFailure::expired;
    case X509_V_ERR_CERT_NOT_YET_VALID: return VerifyFailure::not_yet_valid;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return VerifyFailure::hostname_mismatch;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: return VerifyFailure::self_signed;
    // A chain that ends at a self-signed root the store does not know: a private CA.
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED: return VerifyFailure::unknown_ca;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return chain_ends_at_ca ? VerifyFailure::unknown_ca : VerifyFailure::incomplete_chain;
    default: return VerifyFailure::other;
  }
}

void TlsClient::Free::operator()(SSL_CTX* context) const { SSL_CTX_free(context); }

TlsClient::TlsClient(const std::string& ca_file) : context_(SSL_CTX_new(TLS_client_method())) {
  if (!context_) {
    load_error_ = "cannot create a TLS context: " + openssl_errors();
    return;
  }
  // The handshake must finish whatever the chain; verification is read afterwards.
  SSL_CTX_set_verify(context_.get(), SSL_VERIFY_NONE, nullptr);
  const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(context_.get())
                                     : SSL_CTX_load_verify_locations(context_.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    load_error_ = (ca_file.empty() ? std::string("cannot load the system trust store")
                                   : "cannot load ca_file " + ca_file) +
                  ": " + openssl_errors();
  }
}

ProbeOutcome probe_tls_endpoint(const ProbeRequest& request, const TlsClient& client, std::stop_token stop) {
  // Declared first, so that it outlasts the connection: a peer may reset while OpenSSL writes.
  const net::SigpipeGuard no_sigpipe;
  ProbeOutcome outcome;
  const auto fail = [&outcome](Failure failure) {
    outcome.failure = failure.failure;
    outcome.detail = std::move(failure.detail);
    return outcome;
  };
  const auto target = split_host_port(request.address);
  if (!target) return fail({CertFailure::other, "address is not host:port"});
  if (client.context() == nullptr) return fail({CertFailure::other, client.load_error()});

  const net::Connection connection = net::connect_to(*target, request.deadline, stop);
  if (connection.failure) return fail(failure_of(*connection.failure));

  ERR_clear_error();
  const std::unique_ptr<SSL, SslFree> ssl(SSL_new(client.context()));
  if (!ssl || SSL_set_fd(ssl.get(), connection.fd.get()) != 1) {
    return fail({CertFailure::other, "cannot set up TLS: " + openssl_errors()});
  }
  net::expect_peer_name(ssl.get(), request.server_name.empty() ? target->host : request.server_name);
  SSL_set_connect_state(ssl.get());
  while (true) {
    const int result = SSL_do_handshake(ssl.get());
    if (result == 1) break;
    const int error = SSL_get_error(ssl.get(), result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      const net::WaitResult wait =
          net::wait_for(connection.fd.get(), error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, request.deadline, stop);
      if (wait != net::WaitResult::ready) return fail(wait_failure(wait, "the TLS handshake"));
      continue;
    }
    return fail({CertFailure::tls_handshake, handshake_error(ssl.get(), result)});
  }

  outcome.protocol = SSL_get_version(ssl.get());
  // On the client side the peer chain starts with the leaf.
  if (const STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get())) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      if (auto record = describe_certificate(*sk_X509_value(chain, i), i)) outcome.chain.push_back(std::move(*record));
    }
  }
  const long verify_result = SSL_get_verify_result(ssl.get());
  if (outcome.chain.empty()) {
    outcome.verify_error = "the server sent no certificate";
    outcome.verify_failure = VerifyFailure::other;
  } else if (!client.load_error().empty()) {
    outcome.verify_error = client.load_error();
    outcome.verify_failure = VerifyFailure::other;
  } else if (verify_result != X509_V_OK) {
    outcome.verify_error = X509_verify_cert_error_string(verify_result);
    // The chain OpenSSL built, kept even when verification failed, shows how far it got:
    // to a CA (whose issuer the store lacks) or no further than the leaf (an intermediate
    // missing, or the wrong one sent). The served chain stands in where there is none.
    const STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl.get());
    if (chain == nullptr || sk_X509_num(chain) == 0) chain = SSL_get_peer_cert_chain(ssl.get());
    const bool ends_at_ca = chain != nullptr && sk_X509_num(chain) > 0 &&
                            X509_check_ca(sk_X509_value(chain, sk_X509_num(chain) - 1)) > 0;
    outcome.verify_failure = classify_verify_result(verify_result, ends_at_ca);
  } else {
    outcome.verified = true;
  }
  // A polite close; a peer that does not answer is not waited for.
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  return outcome;
}

}  // namespace assets
