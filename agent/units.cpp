#include "agent/units.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <limits>

namespace assets {
namespace {

struct Unit {
  std::string_view suffix;
  std::uint64_t factor;
};

// Longest suffix first so "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 7> kDurationUnits{{{"ms", 1},
                                              {"y", 365ULL * 24 * 3600 * 1000},
                                              {"w", 7ULL * 24 * 3600 * 1000},
                                              {"d", 24ULL * 3600 * 1000},
                                              {"h", 3600ULL * 1000},
                                              {"m", 60ULL * 1000},
                                              {"s", 1000}}};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return Duration{0};
  std::uint64_t total = 0;
  std::size_t pos = 0;
  // Prometheus requires units in decreasing order, each at most once.
  std::size_t last_unit_index = 0;
  bool first = true;
  while (pos < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[pos]))) return std::nullopt;
    std::uint64_t number = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (number > std::numeric_limits<std::uint64_t>::max() / 10) return std::nullopt;
      number = number * 10 + static_cast<std::uint64_t>(text[pos] - '0');
      ++pos;
    }
    std::size_t unit_index = kDurationUnits.size();
    for (std::size_t i = 0; i < kDurationUnits.size(); ++i) {
      if (text.substr(pos, kDurationUnits[i].suffix.size()) == kDurationUnits[i].suffix) {
        unit_index = i;
        break;
      }
    }
    if (unit_index == kDurationUnits.size()) return std::nullopt;
    // Order: y w d h m s ms. "ms" sits first in the table for matching only.
    static constexpr std::array<int, 7> kRank{6, 0, 1, 2, 3, 4, 5};
    const auto rank = static_cast<std::size_t>(kRank[unit_index]);
    if (!first && rank <= last_unit_index) return std::nullopt;
    last_unit_index = rank;
    first = false;
    const std::uint64_t factor = kDurationUnits[unit_index].factor;
    if (number > std::numeric_limits<std::int64_t>::max() / factor) return std::nullopt;
    total += number * factor;
    if (total > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    pos += kDurationUnits[unit_index].suffix.size();
  }
  return Duration{static_cast<std::int64_t>(total)};
}

std::string format_seconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3fs", seconds);
  return buffer;
}

std::string format_duration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  static constexpr std::array<std::pair<std::int64_t, const char*>, 5> kParts{
      {{24LL * 3600 * 1000, "d"}, {3600LL * 1000, "h"}, {60LL * 1000, "m"}, {1000, "s"}, {1, "ms"}}};
  for (const auto& [factor, suffix] : kParts) {
    if (ms >= factor) {
      out += std::to_string(ms / factor) + suffix;
      ms %= factor;
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t pos = 0;
  std::uint64_t number = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    if (number > std::numeric_limits<std::uint64_t>::max() / 10) return std::nullopt;
    number = number * 10 + static_cast<std::uint64_t>(text[pos] - '0');
    ++pos;
  }
  if (pos == 0) return std::nullopt;
  const std::string_view unit = text.substr(pos);
  static constexpr std::array<Unit, 10> kSizeUnits{{{"", 1},
                                                    {"B", 1},
                                                    {"KB", 1000ULL},
                                                    {"MB", 1000ULL * 1000},
                                                    {"GB", 1000ULL * 1000 * 1000},
                                                    {"TB", 1000ULL * 1000 * 1000 * 1000},
                                                    {"KiB", 1ULL << 10},
                                                    {"MiB", 1ULL << 20},
                                                    {"GiB", 1ULL << 30},
                                                    {"TiB", 1ULL << 40}}};
  for (const auto& [suffix, factor] : kSizeUnits) {
    if (unit == suffix) {
      if (number > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
      return number * factor;
    }
  }
  return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::pair<std::uint64_t, const char*>, 4> kUnits{
      {{1ULL << 40, "TiB"}, {1ULL << 30, "GiB"}, {1ULL << 20, "MiB"}, {1ULL << 10, "KiB"}}};
  for (const auto& [factor, suffix] : kUnits) {
    if (bytes >= factor && bytes % factor == 0) return std::to_string(bytes / factor) + suffix;
  }
  return std::to_string(bytes) + "B";
}

}  // namespace assets
