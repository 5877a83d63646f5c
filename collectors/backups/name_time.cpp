#include "collectors/backups/name_time.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>

#include <re2/re2.h>

namespace assets::backups {

std::optional<NameTimePattern> NameTimePattern::compile(std::string_view pattern, std::string& error) {
  NameTimePattern compiled;
  compiled.pattern_ = pattern;
  std::string regex;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*') {
      regex += ".*";
      continue;
    }
    if (c == '?') {
      regex += ".";
      continue;
    }
    if (c != '%') {
      regex += RE2::QuoteMeta(std::string_view(&c, 1));
      continue;
    }
    if (++i == pattern.size()) {
      error = "ends with a lone %";
      return std::nullopt;
    }
    if (pattern[i] == '%') {
      regex += "%";
      continue;
    }
    struct Conversion {
      char letter;
      Field field;
      std::string_view digits;
    };
    static constexpr Conversion kConversions[] = {
        {'Y', Field::year, "([0-9]{4})"},   {'m', Field::month, "([0-9]{2})"},  {'d', Field::day, "([0-9]{2})"},
        {'H', Field::hour, "([0-9]{2})"},   {'M', Field::minute, "([0-9]{2})"}, {'S', Field::second, "([0-9]{2})"},
        {'s', Field::epoch, "([0-9]{1,12})"}};
    const auto* conversion = std::find_if(std::begin(kConversions), std::end(kConversions),
                                          [&](const Conversion& known) { return known.letter == pattern[i]; });
    if (conversion == std::end(kConversions)) {
      error = std::string("unknown conversion %") + pattern[i] + " (known: %Y %m %d %H %M %S %s %%)";
      return std::nullopt;
    }
    const Field field = conversion->field;
    regex += conversion->digits;
    if (std::find(compiled.fields_.begin(), compiled.fields_.end(), field) != compiled.fields_.end()) {
      error = std::string("conversion %") + pattern[i] + " given twice";
      return std::nullopt;
    }
    compiled.fields_.push_back(field);
  }
  const auto has = [&](Field f) {
    return std::find(compiled.fields_.begin(), compiled.fields_.end(), f) != compiled.fields_.end();
  };
  if (!has(Field::epoch) && !(has(Field::year) && has(Field::month) && has(Field::day))) {
    error = "must be \"mtime\" or a file-name pattern with %Y, %m and %d (or %s)";
    return std::nullopt;
  }
  if (has(Field::epoch) && compiled.fields_.size() > 1) {
    error = "%s cannot be combined with other conversions";
    return std::nullopt;
  }
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(regex, options);
  if (!re->ok()) {
    error = "cannot be matched: " + re->error();
    return std::nullopt;
  }
  compiled.regex_ = std::move(re);
  return compiled;
}

std::optional<std::int64_t> NameTimePattern::parse(std::string_view file_name) const {
  std::array<long long, 7> values{};
  std::array<RE2::Arg, 7> args;
  std::array<const RE2::Arg*, 7> arg_pointers{};
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    args[i] = RE2::Arg(&values[i]);
    arg_pointers[i] = &args[i];
  }
  if (!RE2::FullMatchN(re2::StringPiece(file_name.data(), file_name.size()), *regex_, arg_pointers.data(),
                       static_cast<int>(fields_.size()))) {
    return std::nullopt;
  }
  long long year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    switch (fields_[i]) {
      case Field::epoch:
        return static_cast<std::int64_t>(values[i]);
      case Field::year:
        year = values[i];
        break;
      case Field::month:
        month = values[i];
        break;
      case Field::day:
        day = values[i];
        break;
      case Field::hour:
        hour = values[i];
        break;
      case Field::minute:
        minute = values[i];
        break;
      case Field::second:
        second = values[i];
        break;
    }
  }
  using namespace std::chrono;
  const year_month_day date{std::chrono::year{static_cast<int>(year)}, std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const auto time = sys_days{date} + hours{hour} + minutes{minute} + seconds{std::min(second, 59LL)};
  return static_cast<std::int64_t>(time.time_since_epoch().count());
}

}  // namespace assets::backups
