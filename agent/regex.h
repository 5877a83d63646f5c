#pragma once
// A regular expression compiled once, when the configuration is read, and shared by every
// copy of the configuration. RE2 syntax, as Prometheus and blackbox_exporter use. Two
// values are equal when their patterns are, so a reload compares settings by text.
#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace assets {

class Regex {
 public:
  Regex() : Regex(std::string()) {}
  // Implicit, so a test or a default can write a pattern where a Regex is expected; an
  // invalid pattern gives ok() false (the configuration reader rejects those first).
  Regex(std::string pattern);  // NOLINT(google-explicit-constructor)
  Regex(const char* pattern) : Regex(std::string(pattern)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const;
  std::string error() const;
  const std::string& pattern() const { return pattern_; }
  bool empty() const { return pattern_.empty(); }
  bool full_match(std::string_view text) const;
  bool partial_match(std::string_view text) const;
  const re2::RE2& compiled() const { return *compiled_; }

  bool operator==(const Regex& other) const { return pattern_ == other.pattern_; }

 private:
  std::string pattern_;
  std::shared_ptr<const re2::RE2> compiled_;
};

}  // namespace assets
