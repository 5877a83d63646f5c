#pragma once
// Prometheus-style durations ("1h30m", "500ms", "30d") and sizes with units ("1MiB").
// Pure functions: they take text and return a value or an error message.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace assets {

using Duration = std::chrono::milliseconds;

// Returns the duration, or nullopt when the text is not a valid Prometheus duration.
std::optional<Duration> parse_duration(std::string_view text);
std::string format_duration(Duration d);

// Sizes: a non-negative integer with an optional unit B, KB, MB, GB, TB (powers of 1000)
// or KiB, MiB, GiB, TiB (powers of 1024).
std::optional<std::uint64_t> parse_size(std::string_view text);
std::string format_size(std::uint64_t bytes);

inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
// A measured duration for people: "0.123s".
std::string format_seconds(double seconds);

// Unix time in seconds, as Prometheus' _timestamp_seconds metrics carry it.
inline double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace assets
