#pragma once
// HTTP(S) checks with libcurl. All due checks of a run share one curl multi handle driven
// from the calling thread, so fifty hanging servers cost one thread and each check still
// ends at its own timeout.
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/health/config.h"
#include "collectors/health/check.h"

namespace assets::health {

// Lower-case header name and value, in the order the server sent them.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Each returns a description of the first violated rule, or nullopt when none is.
// Regexes match anywhere in the text (RE2 partial match), like blackbox_exporter's.
std::optional<std::string> status_violation(long status_code, const std::vector<StatusRange>& valid);
std::optional<std::string> body_violation(std::string_view body, const HttpCheck& check);
// A header absent from the response violates both kinds of rule unless allow_missing.
std::optional<std::string> header_violation(const HeaderList& headers, const HttpCheck& check);

// Parses the header lines of one response ("Name: value" lines after the status line).
HeaderList parse_header_block(std::string_view block);

// libcurl's cumulative timings (seconds since the start of the transfer).
struct CurlTimings {
  double namelookup = 0;
  double connect = 0;
  double appconnect = 0;  // 0 without TLS
  double pretransfer = 0;
  double starttransfer = 0;
  double total = 0;
};
PhaseDurations phase_durations(const CurlTimings& timings);

// The reason label for a libcurl result code other than CURLE_OK.
std::string_view classify_curl_error(int curl_code);

// The password in the URL's userinfo ("https://user:pw@host/") as written and decoded;
// empty when there is none.
std::vector<std::string> url_passwords(const std::string& url);

// One configured http check, ready to run repeatedly.
class HttpProbe {
 public:
  HttpProbe(const HttpCheck& config, Duration timeout);
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  const HttpCheck& config() const { return config_; }
  Duration timeout() const { return timeout_; }
  // Values to scrub from every detail text.
  std::span<const std::string_view> secrets() const { return secrets_; }
  // The URL libcurl requests and, with tls.server_name, where it really connects.
  const std::string& request_url() const { return request_url_; }
  const std::string& connect_to() const { return connect_to_; }

 private:
  HttpCheck config_;
  Duration timeout_;
  std::vector<std::string> url_passwords_;
  std::vector<std::string_view> secrets_;
  std::string request_url_;
  std::string connect_to_;
};

// Runs the probes concurrently; each ends at its own timeout or at `deadline`, whichever
// comes first. When `stop` is requested the transfers are abandoned and every entry is
// nullopt; otherwise entry i is the result of probes[i].
std::vector<std::optional<CheckResult>> run_http_checks(std::span<HttpProbe* const> probes,
                                                        Clock::time_point deadline, std::stop_token stop);

// Once per process, before any thread uses libcurl.
void init_curl();

}  // namespace assets::health
