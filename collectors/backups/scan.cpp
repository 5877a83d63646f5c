#include "collectors/backups/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <vector>

#include "agent/log.h"

namespace assets::backups {
namespace {

constexpr std::size_t kMaxDepth = 32;
constexpr std::uint64_t kEntriesPerBudgetCheck = 4096;

struct OpenDirectory {
  DIR* handle = nullptr;
  std::size_t path_length = 0;  // length of the path string while inside this directory
  dev_t device = 0;
  ino_t inode = 0;
};

bool is_temporary_name(std::string_view name) { return name.ends_with(".tmp") || name.ends_with(".partial"); }

std::int64_t to_nanoseconds(const timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

ScanError error_for(int error_number) {
  switch (error_number) {
    case ENOENT:
      return ScanError::not_found;
    case EACCES:
    case EPERM:
      return ScanError::permission_denied;
    default:
      return ScanError::other;
  }
}

std::string describe_open_error(const std::string& directory, int error_number) {
  switch (error_number) {
    case ENOENT:
      return "directory " + directory + " does not exist";
    case EACCES:
    case EPERM:
      return "permission denied reading directory " + directory;
    case ELOOP:
      return "directory " + directory + ": symbolic link loop";
    case ENOTDIR:
      return directory + " is not a directory";
    default:
      return "cannot open directory " + directory + ": " + std::strerror(error_number);
  }
}

class Scanner {
 public:
  explicit Scanner(const ScanOptions& options)
      : options_(options),
        now_seconds_(std::chrono::duration<double>(options.now.time_since_epoch()).count()),
        now_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(options.now.time_since_epoch()).count()),
        settle_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(options.settle).count()) {}

  ~Scanner() {
    for (auto& directory : stack_) closedir(directory.handle);
  }
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  ScanResult run() {
    path_ = options_.directory;
    while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
    const int fd = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return failure(error_for(errno), describe_open_error(path_, errno));
    if (!push_directory(fd)) return failure(error_for(errno), describe_open_error(path_, errno));

    std::uint64_t entries = 0;
    while (!stack_.empty()) {
      if (++entries % kEntriesPerBudgetCheck == 0 && options_.budget.exhausted()) {
        return failure(ScanError::other, "scanning " + options_.directory + " did not finish within the timeout");
      }
      OpenDirectory& current = stack_.back();
      errno = 0;
      const dirent* entry = readdir(current.handle);
      if (entry == nullptr) {
        const int error_number = errno;
        if (error_number != 0 && stack_.size() == 1) {
          return failure(ScanError::other, "reading directory " + path_ + " failed: " + std::strerror(error_number));
        }
        if (error_number != 0) ++result_.summary.unreadable;
        closedir(current.handle);
        stack_.pop_back();
        if (!stack_.empty()) path_.resize(stack_.back().path_length);
        continue;
      }
      visit(current, entry);
    }
    return std::move(result_);
  }

 private:
  ScanResult failure(ScanError error, std::string detail) {
    ScanResult result;
    result.error = error;
    result.detail = std::move(detail);
    return result;
  }

  // Takes ownership of fd. False (errno set) when it cannot be read as a directory.
  bool push_directory(int fd) {
    struct stat status {};
    if (fstat(fd, &status) != 0) {
      const int error_number = errno;
      close(fd);
      errno = error_number;
      return false;
    }
    DIR* handle = fdopendir(fd);
    if (handle == nullptr) {
      const int error_number = errno;
      close(fd);
      errno = error_number;
      return false;
    }
    stack_.push_back({handle, path_.size(), status.st_dev, status.st_ino});
    return true;
  }

  void visit(const OpenDirectory& current, const dirent* entry) {
    const std::string_view name = entry->d_name;
    if (name.starts_with('.')) return;
    const int directory_fd = dirfd(current.handle);
    unsigned char type = entry->d_type;
    if (type == DT_UNKNOWN) {
      struct stat status {};
      if (fstatat(directory_fd, entry->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0) {
        ++result_.summary.unreadable;
        return;
      }
      if (S_ISDIR(status.st_mode)) type = DT_DIR;
    }
    if (type == DT_DIR) {
      if (options_.recursive) descend(directory_fd, entry->d_name);
      return;
    }
    if (fnmatch(options_.pattern.c_str(), entry->d_name, 0) != 0) return;
    if (is_temporary_name(name)) {
      ++result_.summary.temporary;
      return;
    }
    struct stat status {};
    if (fstatat(directory_fd, entry->d_name, &status, 0) != 0) {
      ++result_.summary.unreadable;
      if (log::enabled(log::Level::debug)) {
        log::debug("backup file skipped: cannot stat", {{"directory", path_}, {"file", std::string(name)},
                                                         {"error", std::strerror(errno)}});
      }
      return;
    }
    if (!S_ISREG(status.st_mode)) return;
    add_file(name, status);
  }

  void descend(int parent_fd, const char* name) {
    if (stack_.size() >= kMaxDepth) return;
    const int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      ++result_.summary.unreadable;
      return;
    }
    struct stat status {};
    if (fstat(fd, &status) != 0 || std::any_of(stack_.begin(), stack_.end(), [&](const OpenDirectory& open_dir) {
          return open_dir.device == status.st_dev && open_dir.inode == status.st_ino;
        })) {
      // A bind mount of an ancestor: entering it would loop.
      close(fd);
      return;
    }
    const std::size_t parent_length = path_.size();
    path_ += '/';
    path_ += name;
    if (!push_directory(fd)) {
      ++result_.summary.unreadable;
      path_.resize(parent_length);
    }
  }

  void add_file(std::string_view name, const struct stat& status) {
    ScanSummary& summary = result_.summary;
    const std::int64_t mtime_ns = to_nanoseconds(status.st_mtim);
    const std::int64_t age_ns = now_ns_ - mtime_ns;
    bool in_future = age_ns < -settle_ns_;
    if (!in_future && age_ns < settle_ns_) {
      ++summary.settling;
      return;
    }
    double timestamp = static_cast<double>(mtime_ns) / 1e9;
    if (options_.name_time != nullptr) {
      const std::optional<std::int64_t> from_name = options_.name_time->parse(name);
      if (!from_name) {
        ++summary.unparsable_names;
        if (log::enabled(log::Level::debug)) {
          log::debug("backup file skipped: no time in its name",
                     {{"directory", path_}, {"file", std::string(name)}});
        }
        return;
      }
      timestamp = static_cast<double>(*from_name);
      in_future = timestamp > now_seconds_;
    }
    if (in_future) {
      timestamp = now_seconds_;
      if (summary.future_clamped++ == 0) summary.example_future = name;
    }
    const FileIdentity identity{static_cast<std::uint64_t>(status.st_dev), static_cast<std::uint64_t>(status.st_ino),
                                static_cast<std::uint64_t>(status.st_size), mtime_ns};
    if (summary.files == 0 || timestamp < summary.oldest_timestamp) summary.oldest_timestamp = timestamp;
    ++summary.files;
    summary.total_bytes += identity.size;
    if (!summary.newest || std::tuple(timestamp, identity.mtime_ns, name) >
                               std::tuple(summary.newest->timestamp, summary.newest->identity.mtime_ns,
                                          std::string_view(summary.newest->name))) {
      if (!summary.newest) summary.newest.emplace();
      BackupFile& newest = *summary.newest;
      newest.path.assign(path_);
      if (!newest.path.ends_with('/')) newest.path += '/';
      newest.path.append(name);
      newest.name.assign(name);
      newest.identity = identity;
      newest.timestamp = timestamp;
    }
  }

  const ScanOptions& options_;
  const double now_seconds_;
  const std::int64_t now_ns_;
  const std::int64_t settle_ns_;
  std::string path_;
  std::vector<OpenDirectory> stack_;
  ScanResult result_;
};

}  // namespace

ScanResult scan_backup_directory(const ScanOptions& options) { return Scanner(options).run(); }

}  // namespace assets::backups
