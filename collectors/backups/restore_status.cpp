#include "collectors/backups/restore_status.h"

#include <chrono>

#include <nlohmann/json.hpp>

namespace assets::backups {
namespace {

bool read_digits(std::string_view text, std::size_t position, std::size_t count, int& out) {
  if (position + count > text.size()) return false;
  out = 0;
  for (std::size_t i = position; i < position + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<double> parse_rfc3339(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' || !read_digits(text, 5, 2, month) ||
      text[7] != '-' || !read_digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      !read_digits(text, 11, 2, hour) || text[13] != ':' || !read_digits(text, 14, 2, minute) || text[16] != ':' ||
      !read_digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  std::size_t position = 19;
  double fraction = 0;
  if (text[position] == '.') {
    double scale = 0.1;
    const std::size_t first_digit = ++position;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') {
      fraction += (text[position] - '0') * scale;
      scale /= 10;
      ++position;
    }
    if (position == first_digit) return std::nullopt;
  }
  int offset_seconds = 0;
  if (position < text.size() && (text[position] == 'Z' || text[position] == 'z')) {
    ++position;
  } else if (position < text.size() && (text[position] == '+' || text[position] == '-')) {
    int offset_hours = 0, offset_minutes = 0;
    if (!read_digits(text, position + 1, 2, offset_hours) || position + 3 >= text.size() || text[position + 3] != ':' ||
        !read_digits(text, position + 4, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return std::nullopt;
    }
    offset_seconds = (offset_hours * 60 + offset_minutes) * 60 * (text[position] == '-' ? -1 : 1);
    position += 6;
  } else {
    return std::nullopt;
  }
  if (position != text.size()) return std::nullopt;
  using namespace std::chrono;
  const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const auto time = sys_days{date} + hours{hour} + minutes{minute} + seconds{second > 59 ? 59 : second};
  return static_cast<double>(time.time_since_epoch().count() - offset_seconds) + fraction;
}

std::optional<RestoreTestStatus> parse_restore_test_status(std::string_view json, std::string& error) {
  const nlohmann::json document = nlohmann::json::parse(json, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  RestoreTestStatus status;
  const auto status_field = document.find("status");
  if (status_field == document.end() || !status_field->is_string()) {
    error = "no \"status\" string";
    return std::nullopt;
  }
  const std::string value = status_field->get<std::string>();
  if (value != "success" && value != "failure") {
    error = "\"status\" is neither \"success\" nor \"failure\"";
    return std::nullopt;
  }
  status.success = value == "success";
  const auto finished = document.find("finished_at");
  std::optional<double> finished_at;
  if (finished != document.end() && finished->is_string()) finished_at = parse_rfc3339(finished->get<std::string>());
  if (!finished_at) {
    error = "no RFC 3339 \"finished_at\"";
    return std::nullopt;
  }
  status.finished_at = *finished_at;
  if (const auto last = document.find("last_success_at"); last != document.end() && last->is_string()) {
    status.last_success_at = parse_rfc3339(last->get<std::string>());
  }
  if (const auto backup = document.find("backup"); backup != document.end() && backup->is_string()) {
    status.backup = backup->get<std::string>();
  }
  if (const auto message = document.find("error"); message != document.end() && message->is_string()) {
    status.error = message->get<std::string>();
  }
  return status;
}

}  // namespace assets::backups
