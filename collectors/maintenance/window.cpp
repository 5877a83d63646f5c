#include "collectors/maintenance/window.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "agent/utf8.h"

namespace assets {

std::optional<MaintenanceWindow> parse_maintenance_window(std::string_view text, std::string& error) {
  const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  MaintenanceWindow window;
  for (const auto& [key, value] : document.items()) {
    if (key == "start" || key == "end") {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        error = "\"" + key + "\" must be a number of Unix seconds";
        return std::nullopt;
      }
      (key == "start" ? window.start : window.end) = value.get<double>();
    } else if (key == "reason") {
      if (!value.is_string()) {
        error = "\"reason\" must be a string";
        return std::nullopt;
      }
      window.reason = valid_utf8(value.get<std::string>().substr(0, kMaxMaintenanceReason));
    } else {
      error = "unknown key \"" + valid_utf8(key.substr(0, 40)) + "\"";
      return std::nullopt;
    }
  }
  if (!document.contains("start") || !document.contains("end")) {
    error = "\"start\" and \"end\" are required";
    return std::nullopt;
  }
  if (window.end <= window.start) {
    error = "\"end\" must be after \"start\"";
    return std::nullopt;
  }
  // A file written by hand may ask for more than `maintenance start` allows; it is cut,
  // so no window outlives the bound.
  window.end = std::min(window.end, window.start + to_seconds(kMaxMaintenanceWindow));
  return window;
}

std::string printable_reason(std::string_view reason) {
  std::string out(reason.substr(0, kMaxMaintenanceReason));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string serialize_maintenance_window(const MaintenanceWindow& window) {
  nlohmann::ordered_json document;
  document["start"] = window.start;
  document["end"] = window.end;
  document["reason"] = window.reason;
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace assets
