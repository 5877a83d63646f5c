// The backups collector: for each configured set, the freshness, size and integrity of
// the newest pg_dump file, the retention summary, and the restore test's last success.
// Verifications are cached by file identity and resumed across runs, so a large dump
// is read once; the directory scan keeps a summary, never a list of files.
#include "collectors/backups/backups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>

#include "agent/fan_out.h"
#include "agent/files.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/reason.h"
#include "collectors/backups/name_time.h"
#include "collectors/backups/pg_restore.h"
#include "collectors/backups/restore_status.h"
#include "collectors/backups/scan.h"
#include "collectors/backups/verify.h"

namespace assets {
namespace {

using namespace backups;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxStatusFileBytes = 64 * 1024;
constexpr std::size_t kVerdictCacheSize = 4;
// Time kept back from a run's deadline for everything after the verification.
constexpr auto kDeadlineReserve = std::chrono::milliseconds(100);

constexpr std::string_view kReasonNotFound = reason::kNotFound;
constexpr std::string_view kReasonPermissionDenied = reason::kPermissionDenied;
constexpr std::string_view kReasonNoBackups = "no_backups";
constexpr std::string_view kReasonVerifyFailed = "verify_failed";
constexpr std::string_view kReasonTooSmall = "too_small";
constexpr std::string_view kReasonOther = reason::kOther;

std::string_view reason_for(ScanError error) {
  switch (error) {
    case ScanError::not_found:
      return kReasonNotFound;
    case ScanError::permission_denied:
      return kReasonPermissionDenied;
    case ScanError::other:
    case ScanError::none:
      break;
  }
  return kReasonOther;
}

double epoch_seconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

// Whole seconds: the milliseconds of a measured age are noise to the reader.
std::string format_age(double seconds) {
  return format_duration(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::duration<double>(std::max(seconds, 0.0))));
}

// What one run found out about a set; the metrics and the target status are made from it.
struct SetReport {
  bool up = false;
  std::string reason;  // assets_backup_failure's reason; empty while nothing fails
  std::string detail;
  std::uint64_t files = 0;
  std::uint64_t total_bytes = 0;
  double oldest_timestamp = 0;
  std::optional<double> newest_timestamp;
  std::uint64_t newest_size = 0;
  std::optional<bool> verified;
  bool stale = false;
  std::optional<double> restore_test_last_success;
  bool restore_test_stale = false;
  std::string retention_problem;  // retention_gap or retention_exceeded: a target reason only
  double duration_seconds = 0;
};

struct Verdict {
  FileIdentity identity;
  bool passed = false;
  std::string detail;
};

// A verification that ran out of time and continues on the next run.
struct PendingVerification {
  FileIdentity identity;
  DumpFormat format = DumpFormat::plain;
  std::unique_ptr<DumpVerification> check;
  bool structure_passed = false;  // only pg_restore --list is left
  std::string structure_detail;
};

struct VerifyOutcome {
  std::optional<bool> verified;
  bool permission_denied = false;
  std::string detail;
};

class BackupSet {
 public:
  explicit BackupSet(BackupSetConfig config) : config_(std::move(config)) { report_.detail = "not checked yet"; }

  const BackupSetConfig& config() const { return config_; }
  const SetReport& report() const { return report_; }

  // Verdicts are keyed by file identity; they stay valid whatever else of the set changed,
  // as long as files are verified the same way.
  void take_over_from(BackupSet& previous) {
    if (previous.config_.verify != config_.verify || previous.config_.pg_restore != config_.pg_restore) return;
    verdicts_ = std::move(previous.verdicts_);
    pending_ = std::move(previous.pending_);
    report_ = previous.report_;  // what a settling newest file falls back on
  }

  // Runs are due by the set's own interval; a verification left pending by the last run
  // goes on at the next.
  bool due(Clock::time_point now, Duration tick) const { return pending_ != nullptr || due_.due(now, tick); }

  void run(const CollectContext& context) {
    const auto started = Clock::now();
    due_.ran(started, config_.interval);
    const Duration reserve = std::min<Duration>(kDeadlineReserve, config_.timeout / 10);
    Budget budget{std::min(context.deadline, started + config_.timeout) - reserve, context.stop};
    SetReport report = check(budget);
    report.duration_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    report_ = std::move(report);
  }

 private:
  SetReport check(const Budget& budget) {
    SetReport report;
    const auto now = std::chrono::system_clock::now();
    const ScanResult scan = scan_backup_directory({config_.path, config_.pattern, config_.recursive,
                                                   config_.name_time ? &*config_.name_time : nullptr, now, config_.settle, budget});
    if (scan.error != ScanError::none) {
      report.reason = reason_for(scan.error);
      report.detail = scan.detail;
      add_restore_test(report, now);
      return report;
    }
    report.up = true;
    const ScanSummary& summary = scan.summary;
    log_skipped_files(summary);
    report.files = summary.files;
    report.total_bytes = summary.total_bytes;
    report.oldest_timestamp = summary.oldest_timestamp;
    // The newest backup touched or rewritten in place is settling, and hidden from the
    // scan until it settles. Falling back to the file before it would resolve the newest
    // one's verdict and raise it again a minute later: keep what was known of it.
    if (summary.settling > 0 && report_.newest_timestamp &&
        (!summary.newest || summary.newest->timestamp < *report_.newest_timestamp)) {
      keep_settling_newest(report, now);
      return report;
    }
    if (!summary.newest) {
      report.reason = kReasonNoBackups;
      report.detail = "no complete backup matching \"" + config_.pattern + "\" in " + config_.path;
      if (summary.settling + summary.temporary + summary.unparsable_names + summary.unreadable > 0) {
        report.detail += " (" + std::to_string(summary.settling) + " still being written, " +
                         std::to_string(summary.temporary) + " temporary, " +
                         std::to_string(summary.unparsable_names) + " without a time in the name, " +
                         std::to_string(summary.unreadable) + " unreadable)";
      }
      add_restore_test(report, now);
      return report;
    }
    const BackupFile& newest = *summary.newest;
    report.newest_timestamp = newest.timestamp;
    report.newest_size = newest.identity.size;
    const double age = epoch_seconds(now) - newest.timestamp;
    report.stale = age > to_seconds(config_.max_age);

    const VerifyOutcome outcome = verify(newest, budget);
    report.verified = outcome.verified;
    std::string detail = newest.name + ": " + format_size(newest.identity.size) + ", " + format_age(age) + " old";
    if (report.stale) detail += " (max_age " + format_duration(config_.max_age) + ")";
    if (!outcome.detail.empty()) detail += "; " + outcome.detail;
    if (newest.identity.size < config_.min_size) {
      report.reason = kReasonTooSmall;
      detail += "; smaller than min_size " + format_size(config_.min_size);
    } else if (outcome.permission_denied) {
      report.reason = kReasonPermissionDenied;
    } else if (outcome.verified == false) {
      report.reason = kReasonVerifyFailed;
    }
    report.detail = std::move(detail);
    add_retention(report, now);
    add_restore_test(report, now);
    return report;
  }

  // What AssetsBackupRetentionGap and AssetsBackupRetentionExceeded see, for `check` and
  // the status page: fewer files than days kept (one a day), or files kept two days past
  // the retention.
  void add_retention(SetReport& report, std::chrono::system_clock::time_point now) const {
    const double kept_seconds = epoch_seconds(now) - report.oldest_timestamp;
    const auto expected = static_cast<std::uint64_t>(std::floor(std::min(kept_seconds, to_seconds(config_.retention)) / 86400));
    if (report.files < expected) {
      report.retention_problem = "retention_gap";
      report.detail += "; " + std::to_string(report.files) + " backups where " + std::to_string(expected) +
                       " are expected (one a day over the " + std::to_string(expected) + " days kept)";
    } else if (kept_seconds > to_seconds(config_.retention) + 2 * 86400) {
      report.retention_problem = "retention_exceeded";
      report.detail += "; the oldest backup is " + format_age(kept_seconds) + " old, past the retention of " +
                       format_duration(config_.retention);
    }
  }

  void keep_settling_newest(SetReport& report, std::chrono::system_clock::time_point now) const {
    if (report.files < report_.files) {  // the settling file was counted before: count it still
      report.files = report_.files;
      report.total_bytes = report_.total_bytes;
      report.oldest_timestamp = report_.oldest_timestamp;
    }
    report.newest_timestamp = report_.newest_timestamp;
    report.newest_size = report_.newest_size;
    report.verified = report_.verified;
    if (report_.reason == kReasonVerifyFailed || report_.reason == kReasonTooSmall ||
        report_.reason == kReasonPermissionDenied) {
      report.reason = report_.reason;
    }
    report.stale = epoch_seconds(now) - *report_.newest_timestamp > to_seconds(config_.max_age);
    report.detail = "the newest backup is being written or was touched (settling); until it settles: " +
                    report_.detail;
    add_restore_test(report, now);
  }

  VerifyOutcome verify(const BackupFile& newest, const Budget& budget) {
    VerifyOutcome outcome;
    if (config_.verify == BackupVerify::none) return outcome;
    if (const Verdict* cached = find_verdict(newest.identity)) {
      outcome.verified = cached->passed;
      outcome.detail = cached->detail;
      return outcome;
    }
    if (pending_ && pending_->identity != newest.identity) pending_.reset();

    // The newest file may have been replaced by a FIFO since the scan: open() must not wait.
    FileReadError failure;
    const int fd = open_regular_file(newest.path, failure);
    if (fd < 0) {
      outcome.verified = false;
      outcome.permission_denied = failure.error_number == EACCES || failure.error_number == EPERM;
      outcome.detail = failure.error_number != 0 ? "cannot open: " + std::string(std::strerror(failure.error_number))
                                                 : "not a regular file";
      return outcome;
    }
    VerifyStatus status = resume_verification(fd, newest, budget);
    close(fd);

    if (status.state == VerifyState::pending) {
      // The previous verdict stands until this file's check completes.
      if (!verdicts_.empty()) outcome.verified = verdicts_.front().passed;
      outcome.detail = "integrity check in progress";
      return outcome;
    }
    pending_.reset();
    const bool passed = status.state == VerifyState::passed;
    if (!passed) {
      log::warn("backup failed its integrity check",
                {{"set", config_.name}, {"file", newest.path}, {"detail", status.detail}});
    }
    verdicts_.push_front({newest.identity, passed, status.detail});
    if (verdicts_.size() > kVerdictCacheSize) verdicts_.pop_back();
    outcome.verified = passed;
    outcome.detail = status.detail;
    return outcome;
  }

  VerifyStatus resume_verification(int fd, const BackupFile& newest, const Budget& budget) {
    struct stat status {};
    if (fstat(fd, &status) != 0) return {VerifyState::failed, std::string("cannot stat: ") + std::strerror(errno)};
    const FileIdentity opened{static_cast<std::uint64_t>(status.st_dev), static_cast<std::uint64_t>(status.st_ino),
                              static_cast<std::uint64_t>(status.st_size),
                              static_cast<std::int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 + status.st_mtim.tv_nsec};
    // Replaced or still changing since the scan: look again on the next run.
    if (opened != newest.identity) return {VerifyState::pending, {}};
    FileSource source(fd, opened.size);
    if (!pending_) {
      pending_ = std::make_unique<PendingVerification>();
      pending_->identity = opened;
      pending_->format = chosen_format(source, newest.name);
      pending_->check = make_dump_verification(pending_->format);
    }
    if (!pending_->structure_passed) {
      VerifyStatus structure = pending_->check->advance(source, budget);
      if (structure.state != VerifyState::passed) return structure;
      pending_->structure_passed = true;
      pending_->structure_detail = std::move(structure.detail);
    }
    std::string detail = std::string(to_string(pending_->format)) + " dump verified: " + pending_->structure_detail;
    if (pending_->format == DumpFormat::custom && !config_.pg_restore.empty()) {
      VerifyStatus listing = list_with_pg_restore(config_.pg_restore, newest.path, budget);
      if (listing.state != VerifyState::passed) return listing;
      detail += "; " + listing.detail;
    }
    return {VerifyState::passed, std::move(detail)};
  }

  DumpFormat chosen_format(ByteSource& source, const std::string& name) const {
    switch (config_.verify) {
      case BackupVerify::plain:
        return DumpFormat::plain;
      case BackupVerify::gzip:
        return DumpFormat::gzip;
      case BackupVerify::custom:
        return DumpFormat::custom;
      case BackupVerify::auto_detect:
      case BackupVerify::none:
        break;
    }
    char head[8] = {};
    const ByteSource::Read read = source.read_at(0, head);
    return detect_dump_format(name, std::string_view(head, read.bytes));
  }

  const Verdict* find_verdict(const FileIdentity& identity) const {
    const auto found = std::find_if(verdicts_.begin(), verdicts_.end(),
                                    [&](const Verdict& verdict) { return verdict.identity == identity; });
    return found == verdicts_.end() ? nullptr : &*found;
  }

  void add_restore_test(SetReport& report, std::chrono::system_clock::time_point now) const {
    if (!config_.restore_test) return;
    const RestoreTestConfig& test = *config_.restore_test;
    std::string problem;
    report.restore_test_last_success = read_restore_test_success(test.status_file, problem);
    const double last_success = report.restore_test_last_success.value_or(0);
    report.restore_test_stale = epoch_seconds(now) - last_success > to_seconds(test.max_age);
    if (!problem.empty()) {
      report.detail += "; restore test: " + problem;
    } else if (report.restore_test_stale) {
      report.detail += "; last successful restore test " + format_age(epoch_seconds(now) - last_success) +
                       " ago (max_age " + format_duration(test.max_age) + ")";
    }
  }

  static std::optional<double> read_restore_test_success(const std::string& path, std::string& problem) {
    FileReadError failure;
    const std::optional<std::string> text = read_regular_file(path, kMaxStatusFileBytes, failure);
    if (!text) {
      problem = failure.error_number == ENOENT ? "no status file " + path + " (never run?)" : failure.message;
      return std::nullopt;
    }
    std::string error;
    const std::optional<RestoreTestStatus> parsed = parse_restore_test_status(*text, error);
    if (!parsed) {
      problem = path + ": " + error;
      return std::nullopt;
    }
    if (!parsed->success) problem = "the last test failed: " + (parsed->error.empty() ? "no reason given" : parsed->error);
    return parsed->last_success();
  }

  void log_skipped_files(const ScanSummary& summary) {
    if (summary.future_clamped != future_clamped_logged_) {
      future_clamped_logged_ = summary.future_clamped;
      if (summary.future_clamped > 0) {
        log::warn("backup files dated in the future (clock skew?): counted as made now",
                  {{"set", config_.name}, {"files", std::to_string(summary.future_clamped)},
                   {"example", summary.example_future}});
      }
    }
    if (summary.unreadable != unreadable_logged_) {
      unreadable_logged_ = summary.unreadable;
      if (summary.unreadable > 0) {
        log::warn("backup set entries that cannot be read were skipped",
                  {{"set", config_.name}, {"entries", std::to_string(summary.unreadable)}});
      }
    }
  }

  const BackupSetConfig config_;
  DueTime due_;
  std::deque<Verdict> verdicts_;  // newest first
  std::unique_ptr<PendingVerification> pending_;
  std::uint64_t future_clamped_logged_ = 0;
  std::uint64_t unreadable_logged_ = 0;
  SetReport report_;
};

class BackupsCollector final : public Collector {
 public:
  explicit BackupsCollector(const BackupsConfig& config)
      : tick_(config.interval), max_parallel_(static_cast<std::size_t>(config.max_parallel)) {
    for (const BackupSetConfig& set : config.sets) sets_.push_back(std::make_unique<BackupSet>(set));
  }

  void take_over(Collector& previous) override {
    auto* old = dynamic_cast<BackupsCollector*>(&previous);
    if (old == nullptr) return;
    for (auto& set : sets_) {
      for (auto& old_set : old->sets_) {
        if (old_set->config().name == set->config().name) set->take_over_from(*old_set);
      }
    }
  }

 protected:
  CollectResult collect(const CollectContext& context) override {
    const auto now = Clock::now();
    std::vector<BackupSet*> due;
    for (auto& set : sets_) {
      if (set->due(now, tick_)) due.push_back(set.get());
    }
    fan_out(due.size(), max_parallel_, context.stop, [&](std::size_t i) {
      try {
        due[i]->run(context);
      } catch (const std::exception& error) {
        // One set that cannot be checked (memory, a thread) keeps its last report; the others go on.
        log::warn("backup set check failed", {{"set", due[i]->config().name}, {"error", error.what()}});
      }
    });
    return report();
  }

 private:
  CollectResult report() const {
    MetricsBuilder metrics;
    CollectResult result;
    auto& up = metrics.gauge("assets_backup_up", "1 when the backup set's directory could be read (cached from the last background run).");
    auto& last_timestamp = metrics.gauge("assets_backup_last_timestamp_seconds", "Time of the newest complete backup (from its name or mtime).");
    auto& last_size = metrics.gauge("assets_backup_last_size_bytes", "Size of the newest complete backup.");
    auto& last_verified = metrics.gauge("assets_backup_last_verified", "1 when the newest backup passed its integrity check.");
    auto& files = metrics.gauge("assets_backup_files", "Backups present in the set.");
    auto& oldest = metrics.gauge("assets_backup_oldest_timestamp_seconds", "Time of the oldest backup present.");
    auto& total = metrics.gauge("assets_backup_total_bytes", "Total size of the backups present.");
    auto& max_age = metrics.gauge("assets_backup_max_age_seconds", "Policy: the newest backup must be younger than this.");
    auto& min_size = metrics.gauge("assets_backup_min_size_bytes", "Policy: the smallest acceptable backup.");
    auto& retention = metrics.gauge("assets_backup_retention_seconds", "Policy: backups are kept this long.");
    auto& restore_success = metrics.gauge("assets_backup_restore_test_last_success_timestamp_seconds", "Time of the last successful restore test; 0 when none is recorded.");
    auto& restore_max_age = metrics.gauge("assets_backup_restore_test_max_age_seconds", "Policy: a restore test must have succeeded within this.");
    auto& failure = metrics.gauge("assets_backup_failure", "1 while the set fails, with the reason; absent otherwise.");
    for (const auto& set : sets_) {
      const BackupSetConfig& config = set->config();
      const SetReport& report = set->report();
      const Labels labels{{"set", bounded_label_value(config.name)}};
      up.add(labels, report.up ? 1 : 0);
      if (report.up) {
        files.add(labels, static_cast<double>(report.files));
        total.add(labels, static_cast<double>(report.total_bytes));
      }
      if (report.newest_timestamp) {
        last_timestamp.add(labels, *report.newest_timestamp);
        last_size.add(labels, static_cast<double>(report.newest_size));
        oldest.add(labels, report.oldest_timestamp);
      }
      if (report.verified) last_verified.add(labels, *report.verified ? 1 : 0);
      max_age.add(labels, to_seconds(config.max_age));
      min_size.add(labels, static_cast<double>(config.min_size));
      retention.add(labels, to_seconds(config.retention));
      if (config.restore_test) {
        restore_success.add(labels, report.restore_test_last_success.value_or(0));
        restore_max_age.add(labels, to_seconds(config.restore_test->max_age));
      }
      if (!report.reason.empty()) failure.add({labels[0], {"reason", report.reason}}, 1);

      TargetStatus target;
      target.name = config.name;
      target.kind = "backup";
      target.reason = report.reason;
      if (target.reason.empty() && report.stale) target.reason = "stale";
      if (target.reason.empty() && report.restore_test_stale) target.reason = "restore_test_stale";
      if (target.reason.empty()) target.reason = report.retention_problem;
      target.up = target.reason.empty();
      target.detail = report.detail;
      target.duration_seconds = report.duration_seconds;
      result.targets.push_back(std::move(target));
    }
    result.families = metrics.take();
    return result;
  }

  const Duration tick_;
  const std::size_t max_parallel_;
  std::vector<std::unique_ptr<BackupSet>> sets_;
};

}  // namespace

std::unique_ptr<Collector> make_backups_collector(const BackupsConfig& config) {
  return std::make_unique<BackupsCollector>(config);
}

}  // namespace assets
