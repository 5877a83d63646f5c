#include "collectors/health/http.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <optional>

#include "agent/build_info.h"

namespace assets::health {
namespace {

// Enough for any sane response head; a larger one fails the check as a protocol fault.
constexpr std::size_t kMaxHeaderBytes = 64 << 10;
// How often the transfer loop wakes up to notice a stop request.
constexpr std::chrono::milliseconds kPollSlice{100};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string format_ranges(const std::vector<StatusRange>& ranges) {
  std::string text;
  for (const auto& range : ranges) {
    if (!text.empty()) text += ", ";
    text += std::to_string(range.low);
    if (range.high != range.low) text += "-" + std::to_string(range.high);
  }
  return text;
}

std::vector<const std::string*> header_values(const HeaderList& headers, const std::string& name) {
  std::vector<const std::string*> values;
  for (const auto& [header, value] : headers) {
    if (header == name) values.push_back(&value);
  }
  return values;
}

double seconds_info(CURL* easy, CURLINFO info) {
  curl_off_t microseconds = 0;
  curl_easy_getinfo(easy, info, &microseconds);
  return static_cast<double>(microseconds) / 1e6;
}

long long_info(CURL* easy, CURLINFO info) {
  long value = 0;
  curl_easy_getinfo(easy, info, &value);
  return value;
}

// One request in flight, owned by run_http_checks.
struct Transfer {
  explicit Transfer(HttpProbe& owner) : probe(owner) {}
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    curl_slist_free_all(connect_to);
  }

  HttpProbe& probe;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;
  std::string body;
  bool body_truncated = false;
  std::string header_block;
  std::size_t header_bytes = 0;  // of the current response head
  bool headers_too_large = false;
  std::array<char, CURL_ERROR_SIZE> error{};
  Clock::time_point started;
  std::optional<CheckResult> result;
};

// The sockets libcurl wants watched, in an epoll set, and its one timer: the event loop of
// curl_multi_socket_action. Each wake-up hands libcurl only the sockets that are ready, so a
// run costs the same per check at 10 or 5,000 checks; curl_multi_perform would walk every
// transfer at every wake-up.
class SocketWatch {
 public:
  explicit SocketWatch(CURLM* multi) : multi_(multi), epoll_(epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) return;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  }
  SocketWatch(const SocketWatch&) = delete;
  SocketWatch& operator=(const SocketWatch&) = delete;
  // libcurl calls back whenever a handle leaves the multi, so it must not reach this watch
  // once it is gone (an exception unwinds the watch before the transfers).
  ~SocketWatch() {
    if (epoll_ < 0) return;
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, nullptr);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, nullptr);
    close(epoll_);
  }

  bool ok() const { return epoll_ >= 0; }

  // Waits at most `slice` (less if libcurl's timer is due sooner), then lets libcurl act on
  // each ready socket and on its timer when due.
  void wait_and_act(CURLM* multi, std::chrono::milliseconds slice, int& running) {
    auto wait = slice;
    if (timer_due_) {
      wait = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(*timer_due_ - Clock::now()),
                        std::chrono::milliseconds(0), slice);
    }
    const int ready = epoll_wait(epoll_, events_.data(), static_cast<int>(events_.size()),
                                 static_cast<int>(wait.count()));
    for (int i = 0; i < ready; ++i) {
      const epoll_event& event = events_[static_cast<std::size_t>(i)];
      int flags = 0;
      if ((event.events & EPOLLIN) != 0) flags |= CURL_CSELECT_IN;
      if ((event.events & EPOLLOUT) != 0) flags |= CURL_CSELECT_OUT;
      if ((event.events & (EPOLLERR | EPOLLHUP)) != 0) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi, event.data.fd, flags, &running);
    }
    if (timer_due_ && Clock::now() >= *timer_due_) {
      timer_due_.reset();
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
  }

 private:
  static int on_socket(CURL*, curl_socket_t socket, int what, void* user, void*) {
    auto& self = *static_cast<SocketWatch*>(user);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self.epoll_, EPOLL_CTL_DEL, socket, nullptr);
      return 0;
    }
    epoll_event event{};
    event.data.fd = socket;
    if ((what & CURL_POLL_IN) != 0) event.events |= EPOLLIN;
    if ((what & CURL_POLL_OUT) != 0) event.events |= EPOLLOUT;
    if (epoll_ctl(self.epoll_, EPOLL_CTL_MOD, socket, &event) != 0) {
      epoll_ctl(self.epoll_, EPOLL_CTL_ADD, socket, &event);
    }
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* user) {
    auto& self = *static_cast<SocketWatch*>(user);
    if (timeout_ms < 0) {
      self.timer_due_.reset();
    } else {
      self.timer_due_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }

  CURLM* multi_;
  int epoll_;
  std::array<epoll_event, 256> events_{};
  std::optional<Clock::time_point> timer_due_;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  const std::uint64_t limit = transfer.probe.config().max_body_bytes;
  const std::uint64_t room = limit > transfer.body.size() ? limit - transfer.body.size() : 0;
  if (bytes <= room) {
    transfer.body.append(data, bytes);
    return bytes;
  }
  transfer.body.append(data, static_cast<std::size_t>(room));
  transfer.body_truncated = true;
  return 0;  // ends the transfer: the rest of the body is never read
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  // Redirects and 100-continue bring several responses; the rules apply to the last one.
  if (line.starts_with("HTTP/")) {
    transfer.header_block.clear();
    transfer.header_bytes = 0;
  }
  transfer.header_bytes += bytes;
  if (transfer.header_bytes > kMaxHeaderBytes) {
    transfer.headers_too_large = true;
    return 0;  // ends the transfer: no sane server sends a head this large
  }
  transfer.header_block.append(line);
  return bytes;
}

void configure(Transfer& transfer, Duration timeout) {
  const HttpCheck& check = transfer.probe.config();
  CURL* easy = transfer.easy;
  const long timeout_ms = std::max<long>(1, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_URL, transfer.probe.request_url().c_str());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  // Each check measures a connection of its own, as a probe should (blackbox_exporter's do
  // too): none left by an earlier check of the run is reused, none is kept. libcurl then also
  // skips its search of the connection cache, whose cost grows with the checks of one host.
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  // A transfer ended while its name is still being resolved detaches libcurl's resolver
  // thread instead of joining it: a DNS server that never answers would otherwise hold the
  // whole run, and the stop, until getaddrinfo gives up.
  curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);
  // libcurl's receive buffer, one per check in flight: 16 KiB by default, the largest part of
  // a check's memory (heaptrack). Health answers are small; a large body takes more reads.
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 4096L);
  // Checks go where the config says, not through a proxy from the agent's environment.
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  const std::string user_agent = std::string("assets-agent/") + build::kVersion;
  curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error.data());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, check.follow_redirects ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, static_cast<long>(check.max_redirects));

  if (check.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (check.method == "POST" || !check.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(check.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, check.body.c_str());
    if (check.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, check.method.c_str());
    // No 100-continue round trip: it would add a second of waiting for some servers.
    transfer.headers = curl_slist_append(transfer.headers, "Expect:");
  } else if (check.method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, check.method.c_str());
  }
  for (const auto& [name, value] : check.headers) {
    transfer.headers = curl_slist_append(transfer.headers, (name + ": " + value).c_str());
  }
  if (!check.bearer_token.empty()) {
    transfer.headers =
        curl_slist_append(transfer.headers, ("Authorization: Bearer " + check.bearer_token.reveal()).c_str());
  }
  if (transfer.headers != nullptr) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer.headers);
  if (check.basic_auth) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(easy, CURLOPT_USERNAME, check.basic_auth->username.reveal().c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, check.basic_auth->password.reveal().c_str());
  }
  if (check.tls) {
    const TlsConfig& tls = *check.tls;
    if (!tls.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, tls.ca_file.c_str());
    if (!tls.cert_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_SSLCERT, tls.cert_file.c_str());
      curl_easy_setopt(easy, CURLOPT_SSLKEY, tls.key_file.c_str());
    }
    if (tls.insecure_skip_verify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(easy, CURLOPT_SSLVERSION, curl_min_version(tls.min_version));
  }
  if (!transfer.probe.connect_to().empty()) {
    transfer.connect_to = curl_slist_append(nullptr, transfer.probe.connect_to().c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECT_TO, transfer.connect_to);
  }
  if (check.ip_family == "ip4") curl_easy_setopt(easy, CURLOPT_IPRESOLVE, static_cast<long>(CURL_IPRESOLVE_V4));
  if (check.ip_family == "ip6") curl_easy_setopt(easy, CURLOPT_IPRESOLVE, static_cast<long>(CURL_IPRESOLVE_V6));
}

CheckResult finish(Transfer& transfer, CURLcode code) {
  const HttpCheck& check = transfer.probe.config();
  CURL* easy = transfer.easy;
  HttpFacts facts;
  facts.status_code = long_info(easy, CURLINFO_RESPONSE_CODE);
  facts.redirects = long_info(easy, CURLINFO_REDIRECT_COUNT);
  facts.response_bytes = transfer.body.size();
  facts.phases = phase_durations(CurlTimings{
      seconds_info(easy, CURLINFO_NAMELOOKUP_TIME_T), seconds_info(easy, CURLINFO_CONNECT_TIME_T),
      seconds_info(easy, CURLINFO_APPCONNECT_TIME_T), seconds_info(easy, CURLINFO_PRETRANSFER_TIME_T),
      seconds_info(easy, CURLINFO_STARTTRANSFER_TIME_T), seconds_info(easy, CURLINFO_TOTAL_TIME_T)});
  if (code == CURLE_WRITE_ERROR && transfer.body_truncated) code = CURLE_OK;  // max_body_bytes reached

  CheckResult result;
  if (transfer.headers_too_large) {
    result = failed(reason::kProtocol, "response headers larger than " + format_size(kMaxHeaderBytes));
  } else if (code != CURLE_OK) {
    const std::string message = transfer.error[0] != '\0' ? transfer.error.data() : curl_easy_strerror(code);
    // libcurl refuses a header line over 100 KB with "out of memory", once the status
    // line has arrived: the server breaks the protocol, the agent has memory.
    const bool giant_header = code == CURLE_OUT_OF_MEMORY && transfer.header_bytes > 0;
    result = failed(giant_header ? reason::kProtocol : classify_curl_error(code),
                    giant_header ? std::string("a response header line longer than libcurl accepts (100 KB)") : message);
  } else if (auto status = status_violation(facts.status_code, check.valid_status_codes)) {
    result = failed(reason::kStatus, *status);
  } else if (auto header = header_violation(parse_header_block(transfer.header_block), check)) {
    result = failed(reason::kBody, *header);
  } else if (auto body = body_violation(transfer.body, check)) {
    result = failed(reason::kBody, *body);
  } else {
    result.up = true;
  }
  result.detail = sanitize_detail(result.detail, transfer.probe.secrets());
  result.http = facts;
  result.duration_seconds = seconds_between(transfer.started, Clock::now());
  return result;
}

}  // namespace

std::optional<std::string> status_violation(long status_code, const std::vector<StatusRange>& valid) {
  for (const auto& range : valid) {
    if (status_code >= range.low && status_code <= range.high) return std::nullopt;
  }
  return "status code " + std::to_string(status_code) + " is not one of the valid codes (" + format_ranges(valid) +
         ")";
}

std::optional<std::string> body_violation(std::string_view body, const HttpCheck& check) {
  for (const Regex& regex : check.fail_if_body_matches) {
    if (regex.partial_match(body)) return "body matches fail_if_body_matches \"" + regex.pattern() + "\"";
  }
  for (const Regex& regex : check.fail_if_body_not_matches) {
    if (!regex.partial_match(body)) return "body does not match fail_if_body_not_matches \"" + regex.pattern() + "\"";
  }
  return std::nullopt;
}

std::optional<std::string> header_violation(const HeaderList& headers, const HttpCheck& check) {
  for (const HeaderMatch& rule : check.fail_if_header_matches) {
    const std::string name = lower(rule.header);
    const auto values = header_values(headers, name);
    if (values.empty() && !rule.allow_missing) return "header " + name + " is missing";
    for (const std::string* value : values) {
      if (rule.regex.partial_match(*value)) {
        return "header " + name + " matches fail_if_header_matches \"" + rule.regex.pattern() + "\"";
      }
    }
  }
  for (const HeaderMatch& rule : check.fail_if_header_not_matches) {
    const std::string name = lower(rule.header);
    const auto values = header_values(headers, name);
    if (values.empty()) {
      if (rule.allow_missing) continue;
      return "header " + name + " is missing";
    }
    const bool matched = std::any_of(values.begin(), values.end(),
                                     [&](const std::string* value) { return rule.regex.partial_match(*value); });
    if (!matched) {
      return "header " + name + " does not match fail_if_header_not_matches \"" + rule.regex.pattern() + "\"";
    }
  }
  return std::nullopt;
}

HeaderList parse_header_block(std::string_view block) {
  HeaderList headers;
  while (!block.empty()) {
    const auto end = block.find('\n');
    const std::string_view line = block.substr(0, end);
    block = end == std::string_view::npos ? std::string_view{} : block.substr(end + 1);
    if (line.starts_with("HTTP/")) continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  return headers;
}

PhaseDurations phase_durations(const CurlTimings& t) {
  // libcurl reports points in time since the start; a phase never reached stays 0.
  const auto span = [](double from, double to) { return to > from && from >= 0 ? to - from : 0.0; };
  PhaseDurations phases;
  phases.resolve = t.namelookup;
  phases.connect = t.connect > 0 ? span(t.namelookup, t.connect) : 0;
  phases.tls = t.appconnect > 0 ? span(t.connect, t.appconnect) : 0;
  if (t.starttransfer > 0) {
    phases.processing = span(t.pretransfer, t.starttransfer);
    phases.transfer = span(t.starttransfer, t.total);
  } else if (t.pretransfer > 0) {
    phases.processing = span(t.pretransfer, t.total);  // the server never answered
  }
  return phases;
}

std::string_view classify_curl_error(int curl_code) {
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_OPERATION_TIMEDOUT:
      return reason::kTimeout;
    case CURLE_COULDNT_CONNECT:
      return reason::kRefused;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return reason::kDns;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return reason::kTls;
    case CURLE_TOO_MANY_REDIRECTS:
      return reason::kStatus;  // the last answer was a redirect, not a valid status
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return reason::kProtocol;
    case CURLE_LOGIN_DENIED:
    case CURLE_AUTH_ERROR:
      return reason::kAuth;
    default:
      return reason::kOther;
  }
}

std::vector<std::string> url_passwords(const std::string& url) {
  std::vector<std::string> passwords;
  CURLU* parsed = curl_url();
  if (curl_url_set(parsed, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    for (const unsigned int flags : {0U, static_cast<unsigned int>(CURLU_URLDECODE)}) {
      char* password = nullptr;
      if (curl_url_get(parsed, CURLUPART_PASSWORD, &password, flags) == CURLUE_OK && password != nullptr) {
        if (*password != '\0') passwords.emplace_back(password);
        curl_free(password);
      }
    }
  }
  curl_url_cleanup(parsed);
  return passwords;
}

HttpProbe::HttpProbe(const HttpCheck& config, Duration timeout)
    : config_(config), timeout_(timeout), url_passwords_(url_passwords(config_.url)),
      request_url_(config_.url) {
  for (const auto& password : url_passwords_) secrets_.push_back(password);
  if (config_.basic_auth) {
    secrets_.push_back(config_.basic_auth->username.reveal());
    secrets_.push_back(config_.basic_auth->password.reveal());
  }
  secrets_.push_back(config_.bearer_token.reveal());

  // tls.server_name: request that name (SNI, certificate check, Host header) while
  // connecting to the host and port of the configured URL.
  if (!config_.tls || config_.tls->server_name.empty() || !config_.url.starts_with("https://")) return;
  CURLU* parsed = curl_url();
  char* host = nullptr;
  char* port = nullptr;
  char* rewritten = nullptr;
  if (curl_url_set(parsed, CURLUPART_URL, config_.url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(parsed, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
      curl_url_set(parsed, CURLUPART_HOST, config_.tls->server_name.c_str(), 0) == CURLUE_OK &&
      curl_url_get(parsed, CURLUPART_URL, &rewritten, 0) == CURLUE_OK) {
    request_url_ = rewritten;
    connect_to_ = config_.tls->server_name + ":" + port + ":" + host + ":" + port;
  }
  curl_free(host);
  curl_free(port);
  curl_free(rewritten);
  curl_url_cleanup(parsed);
}

std::vector<std::optional<CheckResult>> run_http_checks(std::span<HttpProbe* const> probes,
                                                        Clock::time_point deadline, std::stop_token stop) {
  std::vector<std::optional<CheckResult>> results(probes.size());
  // Declared first so that it is cleaned up last: every transfer leaves it before.
  const std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi_owner(curl_multi_init(), curl_multi_cleanup);
  CURLM* multi = multi_owner.get();
  std::vector<std::unique_ptr<Transfer>> transfers;
  SocketWatch watch(multi);
  const auto started = Clock::now();
  for (std::size_t i = 0; i < probes.size(); ++i) {
    auto& transfer = *transfers.emplace_back(std::make_unique<Transfer>(*probes[i]));
    transfer.started = started;
    transfer.easy = curl_easy_init();
    const auto left = std::chrono::duration_cast<Duration>(deadline - started);
    configure(transfer, std::min(probes[i]->timeout(), left));
    curl_multi_add_handle(multi, transfer.easy);
  }

  const auto drain = [&] {
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      Transfer* transfer = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
      transfer->result = finish(*transfer, message->data.result);
    }
  };
  // libcurl ends every transfer at its CURLOPT_TIMEOUT_MS, which is never past the
  // deadline; this only guards the loop against a transfer it never reports.
  const auto hard_stop = deadline + std::chrono::milliseconds(250);
  int running = static_cast<int>(transfers.size());
  bool stopped = false;
  if (watch.ok()) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
  while (running > 0) {
    if (stop.stop_requested()) {
      stopped = true;
      break;
    }
    drain();
    if (Clock::now() > hard_stop) break;
    if (watch.ok()) {
      watch.wait_and_act(multi, kPollSlice, running);
    } else {
      // No epoll set (out of file descriptors): libcurl's own loop, which works the same.
      curl_multi_perform(multi, &running);
      if (running > 0) curl_multi_poll(multi, nullptr, 0, static_cast<int>(kPollSlice.count()), nullptr);
    }
  }
  drain();

  for (std::size_t i = 0; i < transfers.size(); ++i) {
    Transfer& transfer = *transfers[i];
    if (transfer.easy != nullptr) curl_multi_remove_handle(multi, transfer.easy);
    if (stopped) continue;
    if (!transfer.result) {
      transfer.result = failed(reason::kTimeout, "no answer before the collector's deadline");
      transfer.result->duration_seconds = seconds_between(transfer.started, Clock::now());
    }
    results[i] = std::move(transfer.result);
  }
  return results;
}

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace assets::health
