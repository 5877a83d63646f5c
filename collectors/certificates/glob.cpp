#include "collectors/certificates/glob.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <set>
#include <utility>

namespace assets {
namespace {

// Deep enough for any real certificate tree, shallow enough to stop a runaway "**".
constexpr std::size_t kMaxDepth = 64;

std::vector<std::string> split_segments(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, slash - start);
    if (!segment.empty() && segment != ".") segments.emplace_back(segment);
    start = slash + 1;
  }
  return segments;
}

bool segment_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), FNM_NOESCAPE) == 0;
}

enum class EntryKind { regular, directory, other };

EntryKind kind_by_stat(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return EntryKind::other;
  if (S_ISREG(info.st_mode)) return EntryKind::regular;
  if (S_ISDIR(info.st_mode)) return EntryKind::directory;
  return EntryKind::other;
}

struct DirClose {
  void operator()(DIR* directory) const { closedir(directory); }
};

struct Entry {
  std::string name;
  EntryKind kind;
};

class Walker {
 public:
  Walker(std::vector<std::string> segments, std::set<std::string>& found, std::size_t max_files)
      : segments_(std::move(segments)), found_(found), max_files_(max_files) {}

  void walk(const std::string& directory, std::size_t index) {
    if (truncated_) return;
    const std::string& segment = segments_[index];
    const bool last = index + 1 == segments_.size();
    if (segment == "**") {
      walk_any_depth(directory, index, last);
      return;
    }
    if (!has_glob_metacharacters(segment)) {
      const std::string path = directory + "/" + segment;
      if (!last) {
        walk(path, index + 1);
      } else if (kind_or_note_error(path) == EntryKind::regular) {
        add(path);
      }
      return;
    }
    for (const Entry& entry : list(directory, nullptr)) {
      if (!segment_match(segment, entry.name)) continue;
      const std::string path = directory + "/" + entry.name;
      if (last && entry.kind == EntryKind::regular) add(path);
      if (!last && entry.kind == EntryKind::directory) walk(path, index + 1);
    }
  }

  std::size_t matched() const { return matched_; }
  bool truncated() const { return truncated_; }
  CertFailure failure() const { return failure_; }
  const std::string& detail() const { return detail_; }

 private:
  void walk_any_depth(const std::string& directory, std::size_t index, bool last) {
    if (!last) walk(directory, index + 1);
    if (ancestry_.size() >= kMaxDepth) return;
    std::pair<dev_t, ino_t> identity{};
    const std::vector<Entry> entries = list(directory, &identity);
    // A symlink back to an ancestor would make "**" endless.
    if (std::find(ancestry_.begin(), ancestry_.end(), identity) != ancestry_.end()) return;
    ancestry_.push_back(identity);
    for (const Entry& entry : entries) {
      const std::string path = directory + "/" + entry.name;
      if (entry.kind == EntryKind::directory) walk_any_depth(path, index, last);
      if (last && entry.kind == EntryKind::regular) add(path);
      if (truncated_) break;
    }
    ancestry_.pop_back();
  }

  std::vector<Entry> list(const std::string& directory, std::pair<dev_t, ino_t>* identity) {
    std::vector<Entry> entries;
    const std::string name = directory.empty() ? "/" : directory;
    const std::unique_ptr<DIR, DirClose> handle(opendir(name.c_str()));
    if (!handle) {
      note_error(errno, name);
      return entries;
    }
    if (identity != nullptr) {
      struct stat info {};
      if (fstat(dirfd(handle.get()), &info) == 0) *identity = {info.st_dev, info.st_ino};
    }
    while (const dirent* entry = readdir(handle.get())) {
      const std::string entry_name = entry->d_name;
      if (entry_name == "." || entry_name == "..") continue;
      EntryKind kind = EntryKind::other;
      if (entry->d_type == DT_REG) kind = EntryKind::regular;
      else if (entry->d_type == DT_DIR) kind = EntryKind::directory;
      else if (entry->d_type == DT_LNK || entry->d_type == DT_UNKNOWN) kind = kind_by_stat(name + "/" + entry_name);
      entries.push_back({entry_name, kind});
    }
    return entries;
  }

  EntryKind kind_or_note_error(const std::string& path) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
      note_error(errno, path);
      return EntryKind::other;
    }
    return S_ISREG(info.st_mode) ? EntryKind::regular : EntryKind::other;
  }

  void note_error(int error, const std::string& path) {
    if (failure_ != CertFailure::not_found) return;
    if (error == EACCES || error == EPERM) {
      failure_ = CertFailure::permission_denied;
      detail_ = "permission denied reading " + path;
    }
  }

  void add(const std::string& path) {
    if (found_.size() >= max_files_ && !found_.contains(path)) {
      truncated_ = true;
      return;
    }
    found_.insert(path);
    ++matched_;
  }

  std::vector<std::string> segments_;
  std::set<std::string>& found_;
  std::size_t max_files_;
  std::size_t matched_ = 0;
  bool truncated_ = false;
  CertFailure failure_ = CertFailure::not_found;
  std::string detail_;
  std::vector<std::pair<dev_t, ino_t>> ancestry_;
};

std::string absolute_pattern(const std::string& pattern) {
  if (!pattern.empty() && pattern.front() == '/') return pattern;
  std::error_code error;
  const auto current = std::filesystem::current_path(error);
  return error ? "/" + pattern : (current / pattern).string();
}

bool excluded(const std::string& path, const std::vector<std::string>& excludes) {
  return std::any_of(excludes.begin(), excludes.end(),
                     [&](const std::string& exclude) { return glob_match(exclude, path); });
}

}  // namespace

bool has_glob_metacharacters(std::string_view pattern) {
  return pattern.find_first_of("*?[") != std::string_view::npos;
}

bool glob_match(std::string_view pattern, std::string_view path) {
  const std::vector<std::string> wanted = split_segments(pattern);
  const std::vector<std::string> segments = split_segments(path);
  // matches[i][j]: wanted[i..] matches segments[j..]. Quadratic, so "**" never backtracks exponentially.
  const std::size_t rows = wanted.size() + 1;
  const std::size_t columns = segments.size() + 1;
  std::vector<char> matches(rows * columns, 0);
  const auto at = [&](std::size_t i, std::size_t j) -> char& { return matches[i * columns + j]; };
  at(wanted.size(), segments.size()) = 1;
  for (std::size_t i = wanted.size(); i-- > 0;) {
    for (std::size_t j = segments.size() + 1; j-- > 0;) {
      const bool more = j < segments.size();
      if (wanted[i] == "**") {
        at(i, j) = static_cast<char>(at(i + 1, j) || (more && at(i, j + 1)));
      } else {
        at(i, j) = static_cast<char>(more && at(i + 1, j + 1) && segment_match(wanted[i], segments[j]));
      }
    }
  }
  return at(0, 0) != 0;
}

GlobExpansion expand_globs(const std::vector<std::string>& patterns, const std::vector<std::string>& excludes,
                           std::size_t max_files) {
  GlobExpansion expansion;
  std::set<std::string> found;
  for (const std::string& written : patterns) {
    const std::string pattern = absolute_pattern(written);
    std::vector<std::string> segments = split_segments(pattern);
    if (!has_glob_metacharacters(pattern)) {
      std::string path;
      for (const auto& segment : segments) path += "/" + segment;
      if (found.size() < max_files) found.insert(path.empty() ? "/" : path);
      else expansion.truncated = true;
      continue;
    }
    Walker walker(std::move(segments), found, max_files);
    walker.walk("", 0);
    expansion.truncated = expansion.truncated || walker.truncated();
    if (walker.matched() == 0) {
      UnmatchedPattern unmatched{written, walker.failure(), walker.detail()};
      if (unmatched.detail.empty()) unmatched.detail = "no file matches";
      expansion.unmatched.push_back(std::move(unmatched));
    }
  }
  for (const std::string& path : found) {
    if (!excluded(path, excludes)) expansion.files.push_back(path);
  }
  return expansion;
}

}  // namespace assets
