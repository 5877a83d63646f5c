#include "collectors/health/dns.h"

#include <arpa/nameser.h>
#include <poll.h>
#include <sys/random.h>
#include <resolv.h>

#include <ares.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>

#include "agent/utf8.h"

namespace assets::health {
namespace {

// Longest text form of one record that the rules see; a TXT record may be longer.
constexpr std::size_t kMaxRecordText = 64 * 1024;
// How often a query waiting on the network looks at the stop token.
constexpr auto kStopPollInterval = std::chrono::milliseconds(100);

std::string rcode_name(int rcode) {
  static constexpr std::string_view kNames[] = {"NOERROR", "FORMERR",  "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                                "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
  return rcode >= 0 && rcode < 11 ? std::string(kNames[rcode]) : std::to_string(rcode);
}

// One line, single spaces: libresolv separates fields with tabs and pads names.
std::string normalise_record_text(const char* text) {
  std::string out;
  bool space = false;
  for (const char* c = text; *c != '\0'; ++c) {
    if (*c == ' ' || *c == '\t' || *c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    const auto byte = static_cast<unsigned char>(*c);
    if (byte < 0x20 || byte == 0x7f) {  // a control byte of a TXT record: \DDD, as dig writes it
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\%03u", byte);
      out += escaped;
      continue;
    }
    out += *c;
  }
  return out;
}

// Returns the reason of the first rule the records break, with its detail.
std::optional<std::string> broken_rule(const std::vector<std::string>& records, const DnsRecordRules& rules,
                                       std::string_view section) {
  const auto any = [&](const Regex& regex) {
    return std::any_of(records.begin(), records.end(), [&](const auto& r) { return regex.partial_match(r); });
  };
  const auto all = [&](const Regex& regex) {
    return std::all_of(records.begin(), records.end(), [&](const auto& r) { return regex.partial_match(r); });
  };
  const std::string where = std::string(section) + " records ";
  for (const Regex& regex : rules.fail_if_matches) {
    if (any(regex)) return where + "match fail_if_matches_regexp " + regex.pattern();
  }
  for (const Regex& regex : rules.fail_if_all_match) {
    if (!records.empty() && all(regex)) return where + "all match fail_if_all_match_regexp " + regex.pattern();
  }
  for (const Regex& regex : rules.fail_if_not_matches) {
    if (!all(regex)) return where + "do not all match fail_if_not_matches_regexp " + regex.pattern();
  }
  for (const Regex& regex : rules.fail_if_none_matches) {
    if (!any(regex)) return where + "match no fail_if_none_matches_regexp " + regex.pattern();
  }
  return std::nullopt;
}

constexpr int kTypeCaa = 257;

// CAA (RFC 8659) has no format in libresolv: `flags tag "value"`, as dig prints it.
std::string caa_text(const unsigned char* data, std::size_t length) {
  if (length < 2 || 2u + data[1] > length) return "\\# " + std::to_string(length);
  const std::size_t tag_length = data[1];
  std::string tag;
  for (std::size_t i = 0; i < tag_length; ++i) {
    const unsigned char byte = data[2 + i];
    tag += std::isalnum(byte) != 0 ? static_cast<char>(byte) : '?';  // RFC 8659: tags are letters and digits
  }
  std::string text = std::to_string(data[0]) + " " + tag + " \"";
  for (std::size_t i = 2 + tag_length; i < length; ++i) {
    const char c = static_cast<char>(data[i]);
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {  // as dig writes them: \DDD
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\%03u", byte);
      text += escaped;
      continue;
    }
    if (c == '"' || c == '\\') text += '\\';
    text += c;
  }
  return text + "\"";
}

std::string fully_qualified(const std::string& name) { return name.empty() || name == "." ? "." : name + "."; }

// SOA: libresolv prints it over several lines with comments; as dig +short does instead,
// the numbers in seconds. nullopt for malformed data.
std::optional<std::string> soa_text(const ns_msg& message, const ns_rr& record) {
  const unsigned char* data = ns_rr_rdata(record);
  const unsigned char* end = data + ns_rr_rdlen(record);
  std::string text;
  for (int name = 0; name < 2; ++name) {
    char expanded[NS_MAXDNAME];
    const int used = dn_expand(ns_msg_base(message), ns_msg_end(message), data, expanded, sizeof expanded);
    if (used < 0 || data + used > end) return std::nullopt;
    data += used;
    text += fully_qualified(expanded) + " ";
  }
  if (end - data != 20) return std::nullopt;
  for (int field = 0; field < 5; ++field, data += 4) {
    text += std::to_string(ns_get32(data)) + (field < 4 ? " " : "");
  }
  return text;
}

// RFC 3597's form for a type libresolv has no plain format for: TYPEnn \# length hex.
std::string unknown_type_text(const ns_rr& record) {
  std::string text = "TYPE" + std::to_string(ns_rr_type(record)) + " \\# " + std::to_string(ns_rr_rdlen(record));
  if (ns_rr_rdlen(record) > 0) text += ' ';
  for (std::size_t i = 0; i < ns_rr_rdlen(record); ++i) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", ns_rr_rdata(record)[i]);
    text += hex;
  }
  return text;
}

// Types whose ns_sprintrr text is one line of plain presentation format.
bool printed_plainly(int type) {
  return type == ns_t_a || type == ns_t_ns || type == ns_t_cname || type == ns_t_ptr || type == ns_t_mx ||
         type == ns_t_txt || type == ns_t_aaaa;
}

struct Answer {
  bool done = false;
  int status = ARES_SUCCESS;
  std::string message;
};

void on_answer(void* argument, int status, int /*timeouts*/, unsigned char* message, int length) {
  auto& answer = *static_cast<Answer*>(argument);
  answer.done = true;
  answer.status = status;
  if (message != nullptr && length > 0) answer.message.assign(reinterpret_cast<const char*>(message), static_cast<std::size_t>(length));
}

struct ChannelCloser {
  void operator()(ares_channel channel) const { ares_destroy(channel); }
};
using ChannelPtr = std::unique_ptr<std::remove_pointer_t<ares_channel>, ChannelCloser>;

CheckResult failure_of_status(int status) {
  switch (status) {
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED: return failed(reason::kTimeout, "no answer within the timeout");
    case ARES_ECONNREFUSED: return failed(reason::kRefused, "the server refused the query (connection refused)");
    case ARES_EBADRESP:
    case ARES_EFORMERR: return failed(reason::kProtocol, std::string("malformed answer: ") + ares_strerror(status));
    default: return failed(reason::kOther, ares_strerror(status));
  }
}

}  // namespace

std::optional<std::vector<std::string>> dns_section_records(std::string_view message, int section) {
  ns_msg parsed{};
  if (ns_initparse(reinterpret_cast<const unsigned char*>(message.data()), static_cast<int>(message.size()), &parsed) != 0) {
    return std::nullopt;
  }
  std::vector<std::string> records;
  const auto ns_section = static_cast<ns_sect>(section);
  for (int i = 0; i < ns_msg_count(parsed, ns_section); ++i) {
    ns_rr record{};
    if (ns_parserr(&parsed, ns_section, i, &record) != 0) return std::nullopt;
    const std::string name = ns_rr_name(record);
    const std::string owner = name.empty() || name == "." ? "." : name + ".";
    const std::string ttl = std::to_string(ns_rr_ttl(record));
    const std::string prefix = owner + " " + ttl + " IN ";
    if (ns_rr_type(record) == kTypeCaa) {
      records.push_back(valid_utf8(prefix + "CAA " + caa_text(ns_rr_rdata(record), ns_rr_rdlen(record))));
      continue;
    }
    if (ns_rr_type(record) == ns_t_soa) {
      const auto soa = soa_text(parsed, record);
      records.push_back(valid_utf8(prefix + (soa ? "SOA " + *soa : unknown_type_text(record))));
      continue;
    }
    if (ns_rr_class(record) != ns_c_in || !printed_plainly(ns_rr_type(record))) {
      records.push_back(valid_utf8(prefix + unknown_type_text(record)));
      continue;
    }
    std::string text(kMaxRecordText, '\0');
    // glibc marks ns_sprintrr deprecated yet exports and keeps it; it is libresolv's one
    // printer of the presentation format, and c-ares 1.18 has none.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    const int printed = ns_sprintrr(&parsed, &record, nullptr, nullptr, text.data(), text.size());
#pragma GCC diagnostic pop
    if (printed < 0) {
      // A record libresolv cannot print (longer than the buffer): its owner and type still
      // tell the rules something.
      records.push_back(valid_utf8(prefix + "TYPE" + std::to_string(ns_rr_type(record))));
      continue;
    }
    // libresolv writes the TTL as 1h2m3s; rules, as blackbox_exporter's, see seconds.
    std::string normalised = normalise_record_text(text.c_str());
    const auto first = normalised.find(' ');
    const auto second = first == std::string::npos ? std::string::npos : normalised.find(' ', first + 1);
    if (second != std::string::npos) normalised.replace(first + 1, second - first - 1, ttl);
    records.push_back(valid_utf8(normalised));
  }
  return records;
}

DnsVerdict evaluate_dns_answer(std::string_view message, const DnsCheck& check) {
  DnsVerdict verdict;
  ns_msg parsed{};
  if (ns_initparse(reinterpret_cast<const unsigned char*>(message.data()), static_cast<int>(message.size()), &parsed) != 0) {
    verdict.failure_reason = reason::kProtocol;
    verdict.detail = "the answer cannot be parsed";
    return verdict;
  }
  verdict.parsed = true;
  verdict.facts.rcode = ns_msg_getflag(parsed, ns_f_rcode);
  verdict.facts.answer_records = static_cast<std::size_t>(ns_msg_count(parsed, ns_s_an));
  verdict.facts.authority_records = static_cast<std::size_t>(ns_msg_count(parsed, ns_s_ns));
  verdict.facts.additional_records = static_cast<std::size_t>(ns_msg_count(parsed, ns_s_ar));
  if (std::find(check.valid_rcodes.begin(), check.valid_rcodes.end(), verdict.facts.rcode) == check.valid_rcodes.end()) {
    verdict.failure_reason = reason::kStatus;
    verdict.detail = "rcode " + std::string(rcode_name(verdict.facts.rcode)) + " is not one of valid_rcodes";
    return verdict;
  }
  const std::pair<int, std::pair<const DnsRecordRules*, std::string_view>> sections[] = {
      {ns_s_an, {&check.answer, "answer"}}, {ns_s_ns, {&check.authority, "authority"}},
      {ns_s_ar, {&check.additional, "additional"}}};
  for (const auto& [section, rules_and_name] : sections) {
    const auto records = dns_section_records(message, section);
    if (!records) {
      verdict.failure_reason = reason::kProtocol;
      verdict.detail = std::string("a record of the ") + std::string(rules_and_name.second) + " section cannot be parsed";
      return verdict;
    }
    if (auto broken = broken_rule(*records, *rules_and_name.first, rules_and_name.second)) {
      // The records themselves, so the status page shows what was there instead.
      std::string seen;
      for (const std::string& record : *records) seen += (seen.empty() ? "" : " | ") + record;
      verdict.failure_reason = reason::kBody;
      verdict.detail = std::move(*broken) + " (records: " + (seen.empty() ? "none" : seen) + ")";
      return verdict;
    }
  }
  return verdict;
}

void init_dns() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

DnsProbe::DnsProbe(const DnsCheck& config, Duration timeout) : config_(config), timeout_(timeout) { init_dns(); }

std::optional<CheckResult> DnsProbe::run(Clock::time_point deadline, std::stop_token stop) const {
  const auto started = Clock::now();
  const auto until = std::min(deadline, started + timeout_);
  const auto finish = [&](CheckResult result) {
    // Record texts come from the server: bounded and folded to one line, as every detail.
    result.detail = sanitize_detail(result.detail, {});
    result.duration_seconds = seconds_between(started, Clock::now());
    return result;
  };

  ares_options options{};
  // NOCHECKRESP: a SERVFAIL or REFUSED answer is the check's result, not a reason to ask
  // the next server; one try, as the deadline is the check's.
  options.flags = ARES_FLAG_NOCHECKRESP | (config_.tcp ? ARES_FLAG_USEVC : 0) |
                  (config_.recursion_desired ? 0 : ARES_FLAG_NORECURSE);
  options.timeout = static_cast<int>(std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(until - started).count()));
  options.tries = 1;
  ares_channel raw_channel = nullptr;
  if (const int status = ares_init_options(&raw_channel, &options, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
      status != ARES_SUCCESS) {
    return finish(failed(reason::kOther, std::string("cannot set up the resolver: ") + ares_strerror(status)));
  }
  Answer answer;
  // Declared after `answer`: destroying the channel calls a pending callback, which writes to it.
  const ChannelPtr channel(raw_channel);
  if (!config_.server.empty()) {
    if (const int status = ares_set_servers_ports_csv(channel.get(), config_.server.c_str()); status != ARES_SUCCESS) {
      return finish(failed(reason::kOther, std::string("cannot use the server: ") + ares_strerror(status)));
    }
  }
  unsigned char* query = nullptr;
  int query_length = 0;
  // c-ares 1.18's ares_send keeps the ID in the buffer: a random one, so an answer forged
  // from off the path must guess it as well as the port.
  std::uint16_t id = 0;
  if (getrandom(&id, sizeof id, 0) != static_cast<ssize_t>(sizeof id)) id = static_cast<std::uint16_t>(started.time_since_epoch().count());
  if (ares_create_query(config_.query_name.c_str(), ns_c_in, config_.query_type_code, id, config_.recursion_desired ? 1 : 0,
                        &query, &query_length, 0) != ARES_SUCCESS) {
    return finish(failed(reason::kOther, "cannot encode a query for this name"));
  }
  ares_send(channel.get(), query, query_length, on_answer, &answer);
  ares_free_string(query);

  while (!answer.done) {
    if (stop.stop_requested()) return std::nullopt;
    const auto now = Clock::now();
    if (now >= until) {
      ares_cancel(channel.get());
      break;
    }
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(channel.get(), sockets, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t count = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      const short events = static_cast<short>((ARES_GETSOCK_READABLE(bits, i) ? POLLIN : 0) |
                                              (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0));
      if (events != 0) fds[count++] = pollfd{sockets[i], events, 0};
    }
    auto wait = std::min<Clock::duration>(until - now, kStopPollInterval);
    timeval most{static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(wait).count()),
                 static_cast<suseconds_t>(std::chrono::duration_cast<std::chrono::microseconds>(wait).count() % 1000000)};
    timeval next{};
    const timeval* chosen = ares_timeout(channel.get(), &most, &next);
    const int wait_ms = static_cast<int>(chosen->tv_sec * 1000 + chosen->tv_usec / 1000);
    const int ready = poll(fds, count, std::max(wait_ms, 1));
    if (ready <= 0) {
      ares_process_fd(channel.get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // its own timeouts
      continue;
    }
    for (nfds_t i = 0; i < count; ++i) {
      const bool readable = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool writable = (fds[i].revents & POLLOUT) != 0;
      if (readable || writable) {
        ares_process_fd(channel.get(), readable ? fds[i].fd : ARES_SOCKET_BAD, writable ? fds[i].fd : ARES_SOCKET_BAD);
      }
    }
  }
  if (answer.message.empty()) return finish(failure_of_status(answer.status));
  DnsVerdict verdict = evaluate_dns_answer(answer.message, config_);
  CheckResult result;
  result.up = verdict.failure_reason.empty();
  if (!result.up) result = failed(verdict.failure_reason, verdict.detail);
  if (verdict.parsed) result.dns = verdict.facts;  // no rcode of an answer that did not parse
  return finish(std::move(result));
}

}  // namespace assets::health
