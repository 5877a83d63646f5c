// libFuzzer target: what a web client controls (the Authorization header, the first line)
// and what a web config file holds (the rest) must give a verdict or errors, never a
// crash, a hang or a leak; no header may pass without the credentials.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/web_auth.h"
#include "agent/web_config.h"

namespace {

const assets::WebAuthenticator& authenticator() {
  static const assets::WebAuthenticator instance = [] {
    assets::WebConfig web;
    // bcrypt of "fuzz-password" at cost 4.
    web.basic_auth_users.emplace("fuzz", assets::Secret("$2b$04$0123456789abcdefghijkeq6vQWOFUswZ/Q/h/sN4lB3vhU7QNkcm"));
    web.bearer_token = assets::Secret("fuzz-token");
    return assets::WebAuthenticator(web);
  }();
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string header(input.substr(0, newline));
  std::string scheme = header.substr(0, header.find(' '));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool plausible = scheme == "basic" || (scheme == "bearer" && header.find("fuzz-token") != std::string::npos);
  if (authenticator().allows("/metrics", header.c_str()) && !plausible) __builtin_trap();
  if (newline == std::string_view::npos) return 0;
  const assets::WebConfigResult result =
      assets::parse_web_config(input.substr(newline + 1), "fuzz.yml", assets::ConfigOptions{.read_named_files = false});
  if (!result.config && result.errors.empty()) __builtin_trap();
  return 0;
}
