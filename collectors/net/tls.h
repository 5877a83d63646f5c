#pragma once
// OpenSSL pieces shared by the TLS clients of the tcp check and the certificates probe
// (their error text is agent/openssl_errors.h, shared with the web server).
#include <string>

#include <openssl/types.h>

namespace assets::net {

// Sets whom the handshake expects: an IP address is checked against the certificate's IP
// addresses and not sent as SNI (RFC 6066 allows none there); a name is sent as SNI and
// checked against the certificate's DNS names. Whether the check fails the handshake is
// the context's verify mode.
void expect_peer_name(SSL* ssl, const std::string& name);

}  // namespace assets::net
