#include "agent/healthcheck_command.h"

#include <curl/curl.h>

#include <array>
#include <memory>
#include <ostream>
#include <string_view>

#include "agent/agent.h"
#include "agent/build_info.h"

namespace assets {
namespace {

// /healthz answers "ok\n": a body past this is not a health endpoint's, and is not read on.
constexpr std::size_t kMaxBodyBytes = 64 << 10;
// Enough of the body to say why, e.g. /-/ready's "not ready: waiting for the first run of ...".
constexpr std::size_t kMaxReasonChars = 200;

struct Body {
  std::string text;
  bool over_limit = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& body = *static_cast<Body*>(user);
  const std::size_t bytes = size * count;
  if (body.text.size() + bytes > kMaxBodyBytes) {
    body.over_limit = true;
    return 0;  // aborts the transfer
  }
  body.text.append(data, bytes);
  return bytes;
}

std::string_view first_line(std::string_view text) {
  text = text.substr(0, text.find_first_of("\r\n"));
  return text.substr(0, kMaxReasonChars);
}

}  // namespace

int run_healthcheck_command(const HealthcheckOptions& options, std::ostream& out) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), curl_easy_cleanup);
  if (!easy) {
    out << "unhealthy: cannot create an HTTP client\n";
    return kExitCheckFailed;
  }
  Body body;
  std::array<char, CURL_ERROR_SIZE> error{};
  const std::string user_agent = std::string("assets-agent-healthcheck/") + build::kVersion;
  curl_easy_setopt(easy.get(), CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy.get(), CURLOPT_FOLLOWLOCATION, 0L);
  // An http_proxy in the container's environment must not carry a loopback check elsewhere.
  curl_easy_setopt(easy.get(), CURLOPT_PROXY, "");
  curl_easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(easy.get(), CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_ERRORBUFFER, error.data());
  curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &body);
  if (options.insecure_skip_verify) {
    curl_easy_setopt(easy.get(), CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy.get(), CURLOPT_SSL_VERIFYHOST, 0L);
  }

  const CURLcode code = curl_easy_perform(easy.get());
  if (body.over_limit) {
    out << "unhealthy: " << options.url << ": the body is over " << format_size(kMaxBodyBytes)
        << ", not a health endpoint's\n";
    return kExitCheckFailed;
  }
  if (code != CURLE_OK) {
    out << "unhealthy: " << options.url << ": " << (error[0] != '\0' ? error.data() : curl_easy_strerror(code)) << '\n';
    return kExitCheckFailed;
  }
  long status = 0;
  curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status <= 299) {
    out << "healthy: HTTP " << status << " from " << options.url << '\n';
    return kExitOk;
  }
  out << "unhealthy: HTTP " << status << " from " << options.url;
  if (const auto reason = first_line(body.text); !reason.empty()) out << ": " << reason;
  if (status >= 300 && status <= 399) out << " (redirects are not followed)";
  if (status == 401) out << " (list the path in the web config's unauthenticated_paths)";
  out << '\n';
  return kExitCheckFailed;
}

}  // namespace assets
