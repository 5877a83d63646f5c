#pragma once
// OpenSSL's error queue as text, for every TLS client and server of the agent.
#include <string>

namespace assets {

// This thread's OpenSSL error queue as text, entries joined by "; ", and the queue emptied.
// Empty when the queue was.
std::string openssl_errors();

}  // namespace assets
