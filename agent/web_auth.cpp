#include "agent/web_auth.h"

#include <crypt.h>

#include <algorithm>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace assets {
namespace {

constexpr std::size_t kMaxCachedVerdicts = 1024;

template <typename... Parts>
std::array<std::uint8_t, 32> sha256(const Parts&... parts) {
  std::array<std::uint8_t, 32> digest{};
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  // Each part is preceded by its length, so ("ab","c") and ("a","bc") differ.
  const auto add = [&](std::string_view part) {
    const std::uint64_t size = part.size();
    EVP_DigestUpdate(context.get(), &size, sizeof size);
    EVP_DigestUpdate(context.get(), part.data(), part.size());
  };
  (add(parts), ...);
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest.data(), &length);
  return digest;
}

// RFC 7617 credentials: base64 of "user:password"; nullopt when malformed.
std::optional<std::string> decode_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<std::size_t>(written) - padding);
  return out;
}

bool bcrypt_matches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  const char* result = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof *data);
  return result != nullptr && std::string_view(result).size() == hash.size() &&
         CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
}

}  // namespace

WebAuthenticator::WebAuthenticator(const WebConfig& config)
    : users_(config.basic_auth_users.begin(), config.basic_auth_users.end()),
      open_paths_(config.unauthenticated_paths) {
  if (!config.bearer_token.empty()) {
    has_bearer_ = true;
    bearer_digest_ = sha256(config.bearer_token.reveal());
  }
  challenge_ = users_.empty() ? "Bearer" : "Basic realm=\"assets-agent\", charset=\"UTF-8\"";
}

bool WebAuthenticator::allows(std::string_view path, const char* authorization) const {
  if (users_.empty() && !has_bearer_) return true;
  if (std::find(open_paths_.begin(), open_paths_.end(), path) != open_paths_.end()) return true;
  if (authorization == nullptr) return false;
  const std::string_view header(authorization);
  const auto space = header.find(' ');
  if (space == std::string_view::npos) return false;
  std::string scheme(header.substr(0, space));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string_view value = header.substr(space + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (scheme == "basic" && !users_.empty()) return basic_allows(value);
  if (scheme == "bearer" && has_bearer_) return bearer_allows(value);
  return false;
}

bool WebAuthenticator::bearer_allows(std::string_view token) const {
  // Digests of equal length, compared in constant time: neither the token nor its length leaks.
  const Digest given = sha256(token);
  return CRYPTO_memcmp(given.data(), bearer_digest_.data(), given.size()) == 0;
}

bool WebAuthenticator::basic_allows(std::string_view credentials) const {
  const auto decoded = decode_base64(credentials);
  if (!decoded) return false;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  if (decoded->find('\0') != std::string::npos) return false;  // crypt would stop at it
  const std::string user = decoded->substr(0, colon);
  const std::string password = decoded->substr(colon + 1);
  const auto found = users_.find(user);
  // An unknown user costs a bcrypt run as a known one does, so timing does not tell
  // which user names exist.
  const std::string& hash = found != users_.end() ? found->second.reveal() : users_.begin()->second.reveal();
  const Digest key = sha256(user, password, hash);
  {
    std::lock_guard lock(cache_mutex_);
    if (accepted_.count(key) != 0) return found != users_.end();
  }
  bool matches = false;
  {
    std::lock_guard lock(bcrypt_mutex_);
    matches = bcrypt_matches(password, hash);
  }
  const bool verdict = matches && found != users_.end();
  if (verdict) {
    std::lock_guard lock(cache_mutex_);
    if (accepted_.size() >= kMaxCachedVerdicts) accepted_.clear();
    accepted_.insert(key);
  }
  return verdict;
}

}  // namespace assets
