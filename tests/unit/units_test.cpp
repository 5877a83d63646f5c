#include "agent/units.h"

#include <gtest/gtest.h>

namespace assets {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, AcceptsPrometheusDurations) {
  const std::vector<std::pair<std::string, Duration>> cases{
      {"0", 0ms},        {"500ms", 500ms}, {"30s", 30s},        {"5m", 5min},       {"26h", 26h},
      {"30d", 30 * 24h}, {"1w", 7 * 24h},  {"1y", 365 * 24h}, {"1h30m", 90min},   {"1m30s500ms", 90500ms},
      {"0s", 0ms},       {"92d", 92 * 24h}};
  for (const auto& [text, expected] : cases) {
    const auto parsed = parse_duration(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(*parsed, expected) << text;
  }
}

TEST(ParseDuration, RejectsMalformedDurations) {
  for (const char* text : {"", "s", "30", "30 s", "-5s", "1.5h", "5s1m", "1h1h", "30sec", "5M", "99999999999999999999d",
                           "1d ", "ms"}) {
    EXPECT_FALSE(parse_duration(text).has_value()) << text;
  }
}

TEST(FormatDuration, RoundTrips) {
  for (Duration d : {Duration(0), Duration(500), Duration(30000), Duration(90 * 60000), Duration(26LL * 3600000),
                     Duration(30LL * 86400000), Duration(90500)}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(21 * 24h), "21d");
}

TEST(ParseSize, AcceptsUnits) {
  const std::vector<std::pair<std::string, std::uint64_t>> cases{
      {"0", 0},         {"512", 512},         {"512B", 512},           {"1KB", 1000},
      {"1KiB", 1024},   {"10MiB", 10 << 20},  {"1GB", 1000000000ULL}, {"2GiB", 2ULL << 30},
      {"1TiB", 1ULL << 40}, {"3TB", 3000000000000ULL}};
  for (const auto& [text, expected] : cases) {
    const auto parsed = parse_size(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(*parsed, expected) << text;
  }
}

TEST(ParseSize, RejectsMalformedSizes) {
  for (const char* text : {"", "MiB", "1 MiB", "1mb", "1.5MiB", "-1", "1PiB", "99999999999999999999TiB"}) {
    EXPECT_FALSE(parse_size(text).has_value()) << text;
  }
}

TEST(FormatSize, UsesTheLargestExactUnit) {
  EXPECT_EQ(format_size(1 << 20), "1MiB");
  EXPECT_EQ(format_size(1536), "1536B");
  EXPECT_EQ(format_size(4096), "4KiB");
}

}  // namespace
}  // namespace assets
