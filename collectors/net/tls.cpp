#include "collectors/net/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "collectors/net/socket.h"

namespace assets::net {

void expect_peer_name(SSL* ssl, const std::string& name) {
  if (is_ip_literal(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    // SSL_set_tlsext_host_name() is a macro with a C cast; this is what it expands to.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
    SSL_set1_host(ssl, name.c_str());
  }
}

}  // namespace assets::net
