#pragma once
// Structured logs on stderr, one event a line, in logfmt (default) or JSON, fit for journald.
// Callers pass fields as key/value pairs; values are escaped here, never by the caller.
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace assets::log {

enum class Level { debug, info, warn, error };
enum class Format { logfmt, json };

std::optional<Level> parse_level(std::string_view text);
std::optional<Format> parse_format(std::string_view text);

void configure(Level level, Format format);
// When stderr is the journal (systemd's JOURNAL_STREAM names its device and inode), each
// line starts with its syslog priority, "<3>" for an error, so that `journalctl -p warning`
// finds the warnings; elsewhere lines stay plain.
void detect_journal_stream();
bool journal_stream_is(std::string_view journal_stream, unsigned long long device, unsigned long long inode);
std::string_view journal_priority_prefix(Level level);
// The prefix for a line written to stderr directly: journal_priority_prefix when stderr is
// the journal, else empty.
std::string_view journal_prefix(Level level);
bool enabled(Level level);

using Field = std::pair<std::string_view, std::string>;
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::debug, m, f); }
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::info, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::warn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::error, m, f); }

// Formats one event without writing it; used by write() and by tests.
std::string format_event(Format format, Level level, std::string_view timestamp, std::string_view message,
                         std::initializer_list<Field> fields);

}  // namespace assets::log
