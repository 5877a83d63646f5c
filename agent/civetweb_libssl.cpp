// What civetweb finds under the name "libssl.so": Debian's civetweb 1.15 loads OpenSSL with
// dlopen("libssl.so") and looks up the OpenSSL 1.1 function table, which libssl.so.3 serves
// whole but for one name that OpenSSL 3 turned into a macro. This library depends on the
// real libssl.so.3 (dlsym finds every other function there) and adds that one name. It
// lives in the agent's own lib directory (see CMakeLists.txt), so TLS needs neither
// libssl-dev nor a civetweb rebuilt.
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

// OpenSSL 1.1's SSL_get_peer_certificate returned a reference the caller frees, as
// SSL_get1_peer_certificate does.
extern "C" __attribute__((visibility("default"))) X509* SSL_get_peer_certificate(const SSL* ssl) {
  return SSL_get1_peer_certificate(ssl);
}
