#pragma once
// File globs with "**": `*`, `?` and `[...]` match within one path segment; a segment that
// is exactly `**` matches any number of segments, none included. No escapes.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/certificates/parse.h"

namespace assets {

// Pure: matches a pattern against a path, segment by segment.
bool glob_match(std::string_view pattern, std::string_view path);
bool has_glob_metacharacters(std::string_view pattern);

struct UnmatchedPattern {
  std::string pattern;
  CertFailure failure = CertFailure::not_found;  // permission_denied when a directory could not be read
  std::string detail;
};

struct GlobExpansion {
  std::vector<std::string> files;  // absolute, sorted, unique; excludes removed
  std::vector<UnmatchedPattern> unmatched;  // wildcard patterns that matched no regular file
  bool truncated = false;  // stopped at max_files
};

// Walks the file system for each pattern. Wildcard segments match regular files and
// directories reached through symlinks too (stat follows links, so a certbot link swap
// is seen); a symlink loop under "**" is not followed twice. A pattern without wildcards
// is taken as is, even when the file is missing, so reading it reports not_found.
// Relative patterns are taken from the current directory. Excludes match the whole path.
GlobExpansion expand_globs(const std::vector<std::string>& patterns, const std::vector<std::string>& excludes,
                           std::size_t max_files);

}  // namespace assets
