#include "collectors/credentials/credentials.h"

#include <glob.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <chrono>
#include <string_view>
#include <system_error>

#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/reason.h"
#include "agent/units.h"
#include "agent/utf8.h"

namespace assets {
namespace {

// Far above any host's secrets; bounds the series a too-wide pattern can make.
constexpr std::size_t kMaxFilesPerPattern = 1000;

enum class Failure { none, not_found, permission_denied, not_a_file, too_many_files, timeout, other };

std::string_view to_string(Failure failure) {
  switch (failure) {
    case Failure::none: return "none";
    case Failure::not_found: return reason::kNotFound;
    case Failure::permission_denied: return reason::kPermissionDenied;
    case Failure::not_a_file: return "not_a_file";
    case Failure::too_many_files: return "too_many_files";
    case Failure::timeout: return reason::kTimeout;
    case Failure::other: return reason::kOther;
  }
  return reason::kOther;
}

Failure failure_of_errno(int error) {
  if (error == ENOENT || error == ENOTDIR) return Failure::not_found;
  if (error == EACCES || error == EPERM) return Failure::permission_denied;
  return Failure::other;
}

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

bool has_glob_metacharacters(std::string_view pattern) { return pattern.find_first_of("*?[") != std::string_view::npos; }

struct FileResult {
  std::string path;
  Failure failure = Failure::none;
  std::string detail;
  double modified_seconds = 0;  // Unix seconds, with the file system's precision
};

// glob(3) reports a directory it could not read here (its errfunc takes no user pointer,
// and glibc calls it on the calling thread).
thread_local int glob_error_errno = 0;
int remember_glob_error(const char* /*path*/, int error) {
  glob_error_errno = error;
  return 0;  // go on with the other directories
}

struct Expansion {
  std::vector<std::string> paths;
  std::vector<FileResult> problems;  // the pattern itself: nothing matched, a directory unread, too many
  bool wildcard = false;
};

Expansion expand(const std::string& pattern) {
  Expansion expansion;
  expansion.wildcard = has_glob_metacharacters(pattern);
  if (!expansion.wildcard) {
    expansion.paths.push_back(pattern);
    return expansion;
  }
  const auto problem = [&](Failure failure, std::string detail) {
    expansion.problems.push_back({pattern, failure, std::move(detail), 0});
  };
  glob_t matches{};
  glob_error_errno = 0;
  const int result = glob(pattern.c_str(), 0, remember_glob_error, &matches);
  if (result == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc && expansion.paths.size() < kMaxFilesPerPattern; ++i) {
      expansion.paths.emplace_back(matches.gl_pathv[i]);
    }
    if (matches.gl_pathc > kMaxFilesPerPattern) {
      problem(Failure::too_many_files, std::to_string(matches.gl_pathc) + " files match; only the first " +
                                           std::to_string(kMaxFilesPerPattern) + " are watched");
    }
  }
  // Also after some matches: the files of a directory that could not be read are unwatched.
  if (glob_error_errno != 0) {
    problem(failure_of_errno(glob_error_errno), "a directory of the pattern could not be read: " + errno_text(glob_error_errno));
  } else if (result == GLOB_NOMATCH) {
    problem(Failure::not_found, "no file matches the pattern");
  } else if (result != 0) {
    problem(Failure::other, "the pattern could not be expanded");
  }
  globfree(&matches);
  return expansion;
}

FileResult stat_file(const std::string& path) {
  FileResult result;
  result.path = path;
  struct stat status {};
  // stat, not open: a FIFO or a device on the path cannot block the run, and contents
  // stay unread. It follows links, as Kubernetes' secret volumes use them.
  if (stat(path.c_str(), &status) != 0) {
    const int error = errno;
    result.failure = failure_of_errno(error);
    result.detail = errno_text(error);
    return result;
  }
  if (!S_ISREG(status.st_mode)) {
    result.failure = Failure::not_a_file;
    result.detail = "not a regular file";
    return result;
  }
  result.modified_seconds = static_cast<double>(status.st_mtim.tv_sec) + static_cast<double>(status.st_mtim.tv_nsec) / 1e9;
  return result;
}

// A path label that had to change (invalid UTF-8 replaced, a long path cut) gets a hash of
// the real path, so two files never share a series.
std::string path_label(const std::string& path) {
  std::string label = bounded_label_value(valid_utf8(path));
  if (label == path) return label;
  std::uint32_t hash = 2166136261u;  // FNV-1a: stable across builds, unlike std::hash
  for (const char byte : path) hash = (hash ^ static_cast<unsigned char>(byte)) * 16777619u;
  char suffix[10];
  std::snprintf(suffix, sizeof suffix, "#%08x", hash);
  return bounded_label_value(valid_utf8(path), kMaxLabelValueLength - 9) + suffix;
}

class CredentialsCollector final : public Collector {
 public:
  explicit CredentialsCollector(CredentialsConfig config) : config_(std::move(config)) {}

 protected:
  CollectResult collect(const CollectContext& context) override {
    MetricsBuilder builder;
    GaugeFamily& up = builder.gauge("assets_credential_up",
                                    "1 when the credential file could be stat()ed (cached from the last background run).");
    GaugeFamily& failure = builder.gauge(
        "assets_credential_failure",
        "Present with value 1 while the credential file cannot be checked; reason is one of not_found, "
        "permission_denied, not_a_file, too_many_files, timeout, other (cached from the last background run).");
    GaugeFamily& modified = builder.gauge("assets_credential_modified_timestamp_seconds",
                                          "Last modification of the credential file, Unix seconds: when it was "
                                          "last rotated (cached from the last background run).");
    GaugeFamily& max_age = builder.gauge("assets_credential_max_age_seconds",
                                         "Policy: the credential must be rotated within this many seconds.");
    GaugeFamily& warn_before = builder.gauge(
        "assets_credential_warn_before_seconds", "Policy: warn this many seconds before the credential's max_age.");
    CollectResult result;
    const double now = unix_time_now();
    for (const CredentialConfig& credential : config_.files) {
      max_age.add({{"credential", credential.name}}, to_seconds(credential.max_age));
      warn_before.add({{"credential", credential.name}}, to_seconds(credential.warn_before));
      std::vector<FileResult> files;
      const auto past_deadline = [&] {
        return context.stop.stop_requested() || std::chrono::steady_clock::now() >= context.deadline;
      };
      if (past_deadline()) {
        files.push_back({credential.path, Failure::timeout, "the run's deadline passed before the pattern was expanded", 0});
      } else {
        Expansion expansion = expand(credential.path);
        for (const std::string& path : expansion.paths) {
          if (past_deadline()) {
            files.push_back({path, Failure::timeout, "the run's deadline passed before the file was checked", 0});
            continue;
          }
          FileResult file = stat_file(path);
          // A pattern names files: a directory or a FIFO it also matches is none of them.
          if (expansion.wildcard && file.failure == Failure::not_a_file) continue;
          files.push_back(std::move(file));
        }
        if (expansion.wildcard && files.empty() && expansion.problems.empty()) {
          expansion.problems.push_back({credential.path, Failure::not_found, "no regular file matches the pattern", 0});
        }
        for (FileResult& problem : expansion.problems) {
          if (problem.failure == Failure::too_many_files) {
            log::warn("a credentials pattern matches too many files; watching only the first ones",
                      {{"credential", credential.name}, {"limit", std::to_string(kMaxFilesPerPattern)}});
          }
          files.push_back(std::move(problem));
        }
      }
      for (const FileResult& file : files) {
        const Labels labels{{"credential", credential.name}, {"path", path_label(file.path)}};
        up.add(labels, file.failure == Failure::none ? 1 : 0);
        TargetStatus& status = result.targets.emplace_back();
        status.name = credential.name + " " + file.path;
        status.kind = "credential";
        status.up = file.failure == Failure::none;
        if (file.failure == Failure::none) {
          modified.add(labels, file.modified_seconds);
          const auto age = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(now - file.modified_seconds));
          status.detail = describe_rotation(age, credential);
        } else {
          Labels with_reason = labels;
          with_reason.emplace_back("reason", std::string(to_string(file.failure)));
          failure.add(with_reason, 1);
          status.reason = std::string(to_string(file.failure));
          status.detail = file.detail;
        }
      }
    }
    result.families = builder.take();
    return result;
  }

 private:
  CredentialsConfig config_;
};

}  // namespace

std::string describe_rotation(Duration age, const CredentialConfig& policy) {
  // Whole minutes are precise enough for a human reading the status page.
  const auto minutes = [](Duration d) { return Duration(std::chrono::duration_cast<std::chrono::minutes>(d)); };
  if (age.count() < 0) return "modified in the future (check the clock); max_age " + format_duration(policy.max_age);
  const std::string modified = "modified " + format_duration(minutes(age)) + " ago";
  const Duration left = policy.max_age - age;
  const std::string max_age = " (max_age " + format_duration(policy.max_age) + ")";
  if (minutes(left < Duration::zero() ? -left : left).count() == 0) return modified + "; rotation due now" + max_age;
  if (left.count() <= 0) return modified + "; rotation overdue by " + format_duration(minutes(-left)) + max_age;
  return modified + "; rotate within " + format_duration(minutes(left)) + (left <= policy.warn_before ? " (due soon)" : "") +
         max_age;
}

std::unique_ptr<Collector> make_credentials_collector(const CredentialsConfig& config) {
  return std::make_unique<CredentialsCollector>(config);
}

}  // namespace assets
