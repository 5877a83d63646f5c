#pragma once
// Reads a backup's time from its file name with a strftime-like pattern, e.g.
// "assets_%Y-%m-%dT%H%M%SZ.dump". Conversions: %Y (4 digits), %m %d %H %M %S (2 digits),
// %s (seconds since the epoch), %% (a literal %); `*` matches any run of characters and
// `?` one character. The whole name must match. Times are UTC.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace assets::backups {

class NameTimePattern {
 public:
  // nullopt, with `error` set, when the pattern is unusable: an unknown conversion, a
  // conversion given twice, or neither %s nor all of %Y %m %d.
  static std::optional<NameTimePattern> compile(std::string_view pattern, std::string& error);

  // Seconds since the epoch, or nullopt when the name does not match or is no valid time.
  std::optional<std::int64_t> parse(std::string_view file_name) const;

  const std::string& pattern() const { return pattern_; }
  bool operator==(const NameTimePattern& other) const { return pattern_ == other.pattern_; }

 private:
  enum class Field { year, month, day, hour, minute, second, epoch };

  std::string pattern_;
  std::shared_ptr<const re2::RE2> regex_;
  std::vector<Field> fields_;  // in the order of the regex's capture groups
};

}  // namespace assets::backups
