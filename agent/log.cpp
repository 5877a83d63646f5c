#include "agent/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace assets::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::logfmt};
std::atomic<bool> g_journal_priorities{false};
std::mutex g_output_mutex;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

void append_logfmt_value(std::string& out, std::string_view value) {
  if (!needs_quotes(value)) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buffer, static_cast<int>(millis));
  return out;
}

}  // namespace

std::optional<Level> parse_level(std::string_view text) {
  if (text == "debug") return Level::debug;
  if (text == "info") return Level::info;
  if (text == "warn") return Level::warn;
  if (text == "error") return Level::error;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view text) {
  if (text == "logfmt") return Format::logfmt;
  if (text == "json") return Format::json;
  return std::nullopt;
}

void configure(Level level, Format format) {
  g_level = level;
  g_format = format;
}

bool journal_stream_is(std::string_view journal_stream, unsigned long long device, unsigned long long inode) {
  // "DEVICE:INODE", both decimal (systemd.exec(5)).
  const auto colon = journal_stream.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string text(journal_stream);
  char* end = nullptr;
  const unsigned long long stream_device = std::strtoull(text.c_str(), &end, 10);
  if (end != text.c_str() + colon) return false;
  const char* inode_text = text.c_str() + colon + 1;
  const unsigned long long stream_inode = std::strtoull(inode_text, &end, 10);
  if (end == inode_text || *end != '\0') return false;
  return stream_device == device && stream_inode == inode;
}

void detect_journal_stream() {
  const char* journal_stream = std::getenv("JOURNAL_STREAM");
  struct stat stderr_stat {};
  // A program started by the service that redirects stderr elsewhere inherits the
  // variable; only the stream itself gets the prefixes.
  const bool is_journal = journal_stream != nullptr && fstat(STDERR_FILENO, &stderr_stat) == 0 &&
                          journal_stream_is(journal_stream, stderr_stat.st_dev, stderr_stat.st_ino);
  g_journal_priorities = is_journal;
}

std::string_view journal_priority_prefix(Level level) {
  switch (level) {
    case Level::debug: return "<7>";
    case Level::info: return "<6>";
    case Level::warn: return "<4>";
    case Level::error: return "<3>";
  }
  return "<6>";
}

std::string_view journal_prefix(Level level) {
  return g_journal_priorities.load(std::memory_order_relaxed) ? journal_priority_prefix(level) : std::string_view{};
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

std::string format_event(Format format, Level level, std::string_view timestamp, std::string_view message,
                         std::initializer_list<Field> fields) {
  if (format == Format::json) {
    nlohmann::ordered_json event;
    event["ts"] = timestamp;
    event["level"] = level_name(level);
    event["msg"] = message;
    for (const auto& [key, value] : fields) event[std::string(key)] = value;
    return event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = "ts=";
  line += timestamp;
  line += " level=";
  line += level_name(level);
  line += " msg=";
  append_logfmt_value(line, message);
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    append_logfmt_value(line, value);
  }
  return line;
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line(journal_prefix(level));
  line += format_event(g_format.load(std::memory_order_relaxed), level, now_rfc3339(), message, fields);
  line += '\n';
  std::lock_guard lock(g_output_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace assets::log
