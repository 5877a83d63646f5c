#include "collectors/certificates/certificates.h"

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>

#include "agent/fan_out.h"
#include "agent/log.h"
#include "agent/utf8.h"
#include "agent/metrics.h"
#include "collectors/certificates/files.h"
#include "collectors/certificates/glob.h"
#include "collectors/certificates/probe.h"

namespace assets {
namespace {

using Clock = std::chrono::steady_clock;

// Far above any real host; bounds memory and series when a pattern is too wide.
constexpr std::size_t kMaxFiles = 50'000;

constexpr std::string_view kSourceFile = "file";
constexpr std::string_view kSourceEndpoint = "endpoint";

struct TargetResult {
  std::string target;
  std::string_view source;
  std::shared_ptr<const ParsedCertificates> parsed;  // failure, detail and the certificates read
  std::optional<bool> verified;  // endpoints that completed the handshake
  std::string verify_error;
  VerifyFailure verify_failure = VerifyFailure::none;
  Duration warning{};
  Duration critical{};
  double duration_seconds = 0;
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string join(const std::vector<std::string>& values, std::string_view separator) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += separator;
    out += value;
  }
  return out;
}

std::string expiry_summary(const std::vector<CertificateRecord>& certificates, double now) {
  if (certificates.empty()) return {};
  const auto soonest = std::min_element(certificates.begin(), certificates.end(),
                                        [](const auto& a, const auto& b) { return a.not_after < b.not_after; });
  // Whole minutes are precise enough for a human reading the status page.
  const auto left = Duration(std::chrono::duration_cast<std::chrono::minutes>(
      std::chrono::duration<double>(soonest->not_after - now)));
  const std::string who = "certificate " + std::to_string(soonest->chain_index) +
                          (soonest->subject_cn.empty() ? "" : " (CN=" + soonest->subject_cn + ")");
  if (left.count() <= 0) return who + " expired " + format_duration(-left) + " ago";
  return who + " expires in " + format_duration(left);
}

// Builds the samples straight into the families: a scan of 10,000 files yields over
// 100,000 samples, and going through Labels would copy every label value twice.
class MetricsWriter {
 public:
  using Label = prometheus::ClientMetric::Label;

  MetricsWriter(double now, std::size_t targets, std::size_t certificates)
      : now_(now),
        up_(builder_.gauge("assets_cert_target_up",
                           "1 when the certificate file was read and parsed, or the endpoint's TLS handshake completed "
                           "(cached from the last background run).")),
        failure_(builder_.gauge("assets_cert_target_failure",
                                "Present with value 1 while the target fails; reason is one of not_found, "
                                "permission_denied, empty, bad_pem, bad_der, timeout, refused, dns, tls_handshake, "
                                "other (cached from the last background run).")),
        verified_(builder_.gauge("assets_cert_verified",
                                 "1 when the endpoint's served chain and host name verified against the trust store "
                                 "(or ca_file); endpoints only (cached from the last background run).")),
        verify_failure_(builder_.gauge(
            "assets_cert_verify_failure",
            "Present with value 1 while the endpoint's chain does not verify; reason is one of expired, "
            "not_yet_valid, hostname_mismatch, self_signed, unknown_ca, incomplete_chain, other "
            "(cached from the last background run).")),
        warning_(builder_.gauge("assets_cert_expiry_warning_seconds",
                                "Policy: warn when a certificate of this target expires within this many seconds.")),
        critical_(builder_.gauge("assets_cert_expiry_critical_seconds",
                                 "Policy: critical when a certificate of this target expires within this many seconds.")),
        not_after_(builder_.gauge("assets_cert_not_after_timestamp_seconds",
                                  "End of the certificate's validity, Unix seconds (cached from the last background run).")),
        not_before_(builder_.gauge(
            "assets_cert_not_before_timestamp_seconds",
            "Start of the certificate's validity, Unix seconds (cached from the last background run).")),
        expired_(builder_.gauge("assets_cert_expired",
                                "1 when the certificate's not_after had passed at the last background run.")),
        info_(builder_.gauge("assets_cert_info",
                             "Descriptive labels of each certificate, value 1 (cached from the last background run).")) {
    for (GaugeFamily* family : {&up_, &warning_, &critical_}) family->family().metric.reserve(targets);
    for (GaugeFamily* family : {&not_after_, &not_before_, &expired_, &info_}) {
      family->family().metric.reserve(certificates);
    }
  }

  void add(const TargetResult& result) {
    const Label target{"target", bounded_label_value(valid_utf8(result.target))};
    const Label source{"source", std::string(result.source)};
    const ParsedCertificates& parsed = *result.parsed;
    sample(up_, {target, source}, parsed.failure == CertFailure::none ? 1 : 0);
    if (parsed.failure != CertFailure::none) {
      sample(failure_, {target, source, {"reason", std::string(to_string(parsed.failure))}}, 1);
    }
    if (result.verified) sample(verified_, {target, source}, *result.verified ? 1 : 0);
    if (result.verified && !*result.verified) {
      sample(verify_failure_, {target, source, {"reason", std::string(to_string(result.verify_failure))}}, 1);
    }
    sample(warning_, {target, source}, to_seconds(result.warning));
    sample(critical_, {target, source}, to_seconds(result.critical));
    for (const CertificateRecord& certificate : parsed.certificates) {
      const Label chain_index{"chain_index", std::to_string(certificate.chain_index)};
      std::vector<Label> labels{target,
                                source,
                                chain_index,
                                {"subject_cn", bounded_label_value(certificate.subject_cn)},
                                {"issuer_cn", bounded_label_value(certificate.issuer_cn)},
                                {"serial", bounded_label_value(certificate.serial)}};
      sample(not_after_, labels, certificate.not_after);
      sample(not_before_, labels, certificate.not_before);
      sample(expired_, std::move(labels), now_ >= certificate.not_after ? 1 : 0);
      sample(info_,
             {target, source, chain_index, {"subject", bounded_label_value(certificate.subject)},
              {"issuer", bounded_label_value(certificate.issuer)},
              {"dns_names", bounded_label_value(join(certificate.dns_names, ","))},
              {"key_type", bounded_label_value(certificate.key_type)}},
             1);
    }
  }

  std::vector<prometheus::MetricFamily> take() { return builder_.take(); }

 private:
  static void sample(GaugeFamily& family, std::vector<Label> labels, double value) {
    prometheus::ClientMetric metric;
    metric.label = std::move(labels);
    metric.gauge.value = value;
    family.family().metric.push_back(std::move(metric));
  }

  double now_;
  MetricsBuilder builder_;
  GaugeFamily& up_;
  GaugeFamily& failure_;
  GaugeFamily& verified_;
  GaugeFamily& verify_failure_;
  GaugeFamily& warning_;
  GaugeFamily& critical_;
  GaugeFamily& not_after_;
  GaugeFamily& not_before_;
  GaugeFamily& expired_;
  GaugeFamily& info_;
};

TargetStatus status_of(const TargetResult& result, double now) {
  const ParsedCertificates& parsed = *result.parsed;
  TargetStatus status;
  status.name = result.target;
  status.kind = std::string(result.source);
  status.up = parsed.failure == CertFailure::none;
  status.reason = std::string(to_string(parsed.failure));
  status.duration_seconds = result.duration_seconds;
  std::vector<std::string> parts;
  if (!parsed.detail.empty()) parts.push_back(parsed.detail);
  if (const std::string expiry = expiry_summary(parsed.certificates, now); !expiry.empty()) parts.push_back(expiry);
  if (result.verified && !*result.verified) {
    parts.push_back("not verified (" + std::string(to_string(result.verify_failure)) + "): " + result.verify_error);
  }
  status.detail = join(parts, "; ");
  return status;
}

std::shared_ptr<const ParsedCertificates> failed_target(CertFailure failure, std::string detail) {
  auto parsed = std::make_shared<ParsedCertificates>();
  parsed->failure = failure;
  parsed->detail = std::move(detail);
  return parsed;
}

class CertificatesCollector final : public Collector {
 public:
  explicit CertificatesCollector(const CertificatesConfig& config) : config_(config) {}

  // Parsed files are keyed by path and file identity; they stay valid whatever else of the
  // section changed, as long as the size limit they were read under is the same.
  void take_over(Collector& previous) override {
    auto* old = dynamic_cast<CertificatesCollector*>(&previous);
    if (old != nullptr && old->config_.max_file_bytes == config_.max_file_bytes) cache_ = std::move(old->cache_);
  }

 protected:
  CollectResult collect(const CollectContext& context) override {
    std::vector<TargetResult> endpoints(config_.endpoints.size());
    std::map<std::string, std::unique_ptr<TlsClient>> clients;
    for (const auto& endpoint : config_.endpoints) {
      auto& client = clients[endpoint.ca_file];
      if (!client) client = std::make_unique<TlsClient>(endpoint.ca_file);
    }
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      // A stop ends a probe as its timeout would (probe.cpp), also one that never started.
      endpoints[i] = failed_endpoint(config_.endpoints[i], "the run was stopped before the endpoint was probed",
                                     CertFailure::timeout);
    }
    std::vector<TargetResult> files;
    {
      // Endpoints are probed by a bounded set of threads while this thread reads the files.
      BackgroundFanOut probing(endpoints.size(), static_cast<std::size_t>(config_.max_parallel), context.stop,
                               [&](std::size_t i) {
                                 const auto& endpoint = config_.endpoints[i];
                                 try {
                                   endpoints[i] = probe(endpoint, *clients.at(endpoint.ca_file), context);
                                 } catch (const std::exception& error) {
                                   // It fails this endpoint only, not the run.
                                   endpoints[i] = failed_endpoint(endpoint, error.what());
                                 }
                               });
      files = scan_files(context);
      probing.join();
    }

    const double now = unix_time_now();
    std::size_t certificates = 0;
    for (const auto* group : {&files, &endpoints}) {
      for (const TargetResult& target : *group) certificates += target.parsed->certificates.size();
    }
    MetricsWriter writer(now, files.size() + endpoints.size(), certificates);
    CollectResult result;
    result.targets.reserve(files.size() + endpoints.size());
    for (const auto* group : {&files, &endpoints}) {
      for (const TargetResult& target : *group) {
        writer.add(target);
        result.targets.push_back(status_of(target, now));
        log_problems(target);
      }
    }
    result.families = writer.take();
    return result;
  }

 private:
  TargetResult endpoint_target(const CertEndpointConfig& endpoint) const {
    TargetResult result;
    result.target = endpoint.address;
    result.source = kSourceEndpoint;
    result.warning = endpoint.expiry_warning.value_or(config_.expiry_warning);
    result.critical = endpoint.expiry_critical.value_or(config_.expiry_critical);
    return result;
  }

  TargetResult failed_endpoint(const CertEndpointConfig& endpoint, std::string detail,
                               CertFailure failure = CertFailure::other) const {
    TargetResult result = endpoint_target(endpoint);
    result.parsed = failed_target(failure, std::move(detail));
    return result;
  }

  TargetResult probe(const CertEndpointConfig& endpoint, const TlsClient& client, const CollectContext& context) const {
    const auto start = Clock::now();
    const ProbeRequest request{endpoint.address, endpoint.server_name, std::min(start + endpoint.timeout, context.deadline)};
    ProbeOutcome outcome = probe_tls_endpoint(request, client, context.stop);
    TargetResult result = endpoint_target(endpoint);
    if (outcome.failure == CertFailure::none) {
      result.verified = outcome.verified;
      result.verify_error = std::move(outcome.verify_error);
      result.verify_failure = outcome.verify_failure;
    }
    auto parsed = std::make_shared<ParsedCertificates>();
    parsed->certificates = std::move(outcome.chain);
    parsed->failure = outcome.failure;
    parsed->detail = std::move(outcome.detail);
    result.parsed = std::move(parsed);
    result.duration_seconds = seconds_since(start);
    return result;
  }

  std::vector<TargetResult> scan_files(const CollectContext& context) {
    std::vector<TargetResult> results;
    if (config_.files.empty()) return results;
    const GlobExpansion expansion = expand_globs(config_.files, config_.exclude, kMaxFiles);
    if (expansion.truncated) {
      log::warn("certificate file patterns match too many files; reading only the first ones",
                {{"limit", std::to_string(kMaxFiles)}});
    }
    results.reserve(expansion.files.size() + expansion.unmatched.size());
    const auto new_target = [&](std::string target) {
      TargetResult& result = results.emplace_back();
      result.target = std::move(target);
      result.source = kSourceFile;
      result.warning = config_.expiry_warning;
      result.critical = config_.expiry_critical;
      return &result;
    };
    for (const UnmatchedPattern& unmatched : expansion.unmatched) {
      new_target(unmatched.pattern)->parsed = failed_target(unmatched.failure, unmatched.detail);
    }
    for (const std::string& path : expansion.files) {
      TargetResult* result = new_target(path);
      if (context.stop.stop_requested() || Clock::now() >= context.deadline) {
        result->parsed = failed_target(CertFailure::timeout, "the run's deadline passed before the file was read");
        continue;
      }
      const auto start = Clock::now();
      result->parsed = cache_.scan(path, config_.max_file_bytes);
      result->duration_seconds = seconds_since(start);
    }
    cache_.forget_unseen();
    return results;
  }

  static void log_problems(const TargetResult& target) {
    if (!log::enabled(log::Level::debug)) return;
    const ParsedCertificates& parsed = *target.parsed;
    if (parsed.failure != CertFailure::none) {
      log::debug("certificate target failed", {{"target", target.target},
                                               {"source", std::string(target.source)},
                                               {"reason", std::string(to_string(parsed.failure))},
                                               {"detail", parsed.detail}});
    }
    if (target.verified && !*target.verified) {
      log::debug("certificate verification failed", {{"target", target.target},
                                                     {"reason", std::string(to_string(target.verify_failure))},
                                                     {"error", target.verify_error}});
    }
  }

  CertificatesConfig config_;
  CertificateFileCache cache_;
};

}  // namespace

std::unique_ptr<Collector> make_certificates_collector(const CertificatesConfig& config) {
  return std::make_unique<CertificatesCollector>(config);
}

}  // namespace assets
