#include "collectors/containers/api.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <nlohmann/json.hpp>

namespace assets::containers {
namespace {

using nlohmann::json;

std::optional<json> parse_json(std::string_view body) {
  json value = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string text_of(const json& object, std::string_view key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::int64_t> integer_of(const json& object, std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const auto value = it->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(value);
  }
  return it->get<std::int64_t>();
}

std::optional<bool> bool_of(const json& object, std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

const json* object_of(const json& object, std::string_view key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? &*it : nullptr;
}

std::map<std::string, std::string> labels_of(const json* labels) {
  std::map<std::string, std::string> out;
  if (labels == nullptr) return out;
  for (const auto& [key, value] : labels->items()) {
    if (value.is_string()) out.emplace(key, value.get<std::string>());
  }
  return out;
}

std::string without_leading_slash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

// The parenthesised parts of a Status text: "(healthy)", "(3)", "(Paused)". They carry
// health, exit code and pause; the rest of the text is ages that change every second.
std::vector<std::string_view> parenthesised(std::string_view status) {
  std::vector<std::string_view> parts;
  std::size_t open = status.find('(');
  while (open != std::string_view::npos) {
    const std::size_t close = status.find(')', open);
    if (close == std::string_view::npos) break;
    parts.push_back(status.substr(open + 1, close - open - 1));
    open = status.find('(', close);
  }
  return parts;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && lower(text.substr(0, prefix.size())) == prefix;
}

std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::string ApiVersion::to_string() const { return std::to_string(major) + "." + std::to_string(minor); }

std::optional<ApiVersion> parse_api_version(std::string_view text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  ApiVersion version;
  const char* const end = text.data() + text.size();
  const auto major = std::from_chars(text.data(), text.data() + dot, version.major);
  const auto minor = std::from_chars(text.data() + dot + 1, end, version.minor);
  if (major.ec != std::errc() || major.ptr != text.data() + dot || minor.ec != std::errc() || minor.ptr != end) {
    return std::nullopt;
  }
  return version;
}

Parsed<EngineVersion> parse_version(std::string_view body) {
  const auto document = parse_json(body);
  if (!document || !document->is_object()) return {std::nullopt, "version: not a JSON object"};
  EngineVersion version;
  version.version = text_of(*document, "Version");
  const auto api = parse_api_version(text_of(*document, "ApiVersion"));
  if (!api) return {std::nullopt, "version: no valid ApiVersion"};
  version.api_version = *api;
  if (const auto components = document->find("Components");
      components != document->end() && components->is_array()) {
    for (const auto& component : *components) {
      if (component.is_object() && lower(text_of(component, "Name")).find("podman") != std::string::npos) {
        version.podman = true;
      }
    }
  }
  return {version, {}};
}

std::string normalize_state(std::string_view state) {
  const std::string name = lower(state);
  for (const std::string_view known : kStates) {
    if (name == known) return name;
  }
  // Podman's own names, which its compat API lets through in places.
  if (name == "configured" || name == "initialized") return "created";
  if (name == "stopped") return "exited";
  if (name == "stopping") return "running";
  return {};
}

std::string normalize_health(std::string_view health) {
  const std::string name = lower(health);
  for (const std::string_view known : kHealthStatuses) {
    if (name == known) return name;
  }
  return "none";
}

Parsed<std::vector<ListedContainer>> parse_container_list(std::string_view body) {
  const auto document = parse_json(body);
  if (!document || !document->is_array()) return {std::nullopt, "container list: not a JSON array"};
  std::vector<ListedContainer> containers;
  containers.reserve(document->size());
  for (const auto& entry : *document) {
    if (!entry.is_object()) return {std::nullopt, "container list: an entry is not an object"};
    ListedContainer container;
    container.id = text_of(entry, "Id");
    if (container.id.empty()) return {std::nullopt, "container list: an entry has no Id"};
    if (const auto names = entry.find("Names"); names != entry.end() && names->is_array() && !names->empty() &&
                                                 names->front().is_string()) {
      container.name = without_leading_slash(names->front().get<std::string>());
    }
    if (container.name.empty()) container.name = container.id.substr(0, 12);
    container.image = text_of(entry, "Image");
    container.status = text_of(entry, "Status");
    container.state = normalize_state(text_of(entry, "State"));
    if (container.state.empty()) {
      container.state = starts_with_ignoring_case(container.status, "up") ? "running" : "exited";
    }
    container.labels = labels_of(object_of(entry, "Labels"));
    container.change_signature = container.state + '|' + container.name + '|' + container.image + '|' +
                                 std::to_string(integer_of(entry, "Created").value_or(0));
    for (const std::string_view part : parenthesised(container.status)) {
      container.change_signature.append("|(").append(part).append(")");
    }
    containers.push_back(std::move(container));
  }
  return {std::move(containers), {}};
}

Parsed<ContainerDetails> parse_inspect(std::string_view body) {
  const auto document = parse_json(body);
  if (!document || !document->is_object()) return {std::nullopt, "inspect: not a JSON object"};
  const json* state = object_of(*document, "State");
  if (state == nullptr) return {std::nullopt, "inspect: no State object"};
  ContainerDetails details;
  details.id = text_of(*document, "Id");
  if (details.id.empty()) return {std::nullopt, "inspect: no Id"};
  details.name = without_leading_slash(text_of(*document, "Name"));
  if (details.name.empty()) details.name = details.id.substr(0, 12);
  const json* config = object_of(*document, "Config");
  // Config.Image is the reference the container was created from; the top-level Image
  // is the image ID.
  details.image = config != nullptr ? text_of(*config, "Image") : std::string();
  if (details.image.empty()) details.image = text_of(*document, "Image");
  details.labels = labels_of(config != nullptr ? object_of(*config, "Labels") : nullptr);

  details.state = normalize_state(text_of(*state, "Status"));
  if (details.state.empty()) {
    if (bool_of(*state, "Dead").value_or(false)) {
      details.state = "dead";
    } else if (bool_of(*state, "Paused").value_or(false)) {
      details.state = "paused";
    } else if (bool_of(*state, "Restarting").value_or(false)) {
      details.state = "restarting";
    } else if (bool_of(*state, "Running").value_or(false)) {
      details.state = "running";
    } else {
      details.state = "exited";
    }
  }
  const json* health = object_of(*state, "Health");
  details.health = normalize_health(health != nullptr ? text_of(*health, "Status") : std::string());
  details.restart_count = integer_of(*document, "RestartCount");
  details.exit_code = integer_of(*state, "ExitCode");
  details.oom_killed = bool_of(*state, "OOMKilled");
  details.started_at = parse_timestamp(text_of(*state, "StartedAt"));
  details.finished_at = parse_timestamp(text_of(*state, "FinishedAt"));
  return {std::move(details), {}};
}

ContainerDetails details_from_list(const ListedContainer& entry) {
  ContainerDetails details;
  details.id = entry.id;
  details.name = entry.name;
  details.image = entry.image;
  details.labels = entry.labels;
  details.state = entry.state;
  details.health = "none";
  for (const std::string_view part : parenthesised(entry.status)) {
    const std::string text = lower(part);
    if (text == "healthy" || text == "unhealthy") details.health = text;
    if (text == "health: starting") details.health = "starting";
  }
  if (starts_with_ignoring_case(entry.status, "exited (")) {
    std::int64_t code = 0;
    const std::string_view rest = std::string_view(entry.status).substr(8);
    const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), code);
    if (error == std::errc() && end != rest.data() && end < rest.data() + rest.size() && *end == ')') {
      details.exit_code = code;
    }
  }
  return details;
}

bool event_may_change_state(std::string_view action) {
  if (action.starts_with("exec_")) return false;  // Docker's "exec_start: cmd", Podman's "exec_died"
  static constexpr std::string_view kHarmless[] = {"exec",   "attach", "detach",       "top",           "resize",
                                                   "export", "commit", "archive-path", "extract-to-dir", "copy"};
  return std::find(std::begin(kHarmless), std::end(kHarmless), action) == std::end(kHarmless);
}

Parsed<EventBatch> parse_events(std::string_view body) {
  EventBatch batch;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view line = body.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const auto event = parse_json(line);
    if (!event || !event->is_object()) return {std::nullopt, "events: a line is not a JSON object"};
    ++batch.total_events;
    if (text_of(*event, "Type") != "container") continue;
    ContainerEvent container_event;
    container_event.action = text_of(*event, "Action");
    if (container_event.action.empty()) container_event.action = text_of(*event, "status");
    if (const json* actor = object_of(*event, "Actor")) container_event.container_id = text_of(*actor, "ID");
    if (container_event.container_id.empty()) container_event.container_id = text_of(*event, "id");
    if (container_event.container_id.empty()) return {std::nullopt, "events: a container event names no container"};
    batch.container_events.push_back(std::move(container_event));
  }
  return {std::move(batch), {}};
}

std::optional<double> parse_timestamp(std::string_view text) {
  // 2006-01-02T15:04:05[.999999999](Z|+07:00)
  const auto year = digits(text, 0, 4);
  const auto month = digits(text, 5, 2);
  const auto day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2);
  const auto minute = digits(text, 14, 2);
  const auto second = digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  if (*year <= 1) return std::nullopt;  // Go's zero time: never happened
  const std::chrono::year_month_day date{std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  std::size_t pos = 19;
  double fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    double scale = 0.1;
    std::size_t digit_count = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digit_count) {
      fraction += (text[pos] - '0') * scale;
      scale /= 10;
    }
    if (digit_count == 0) return std::nullopt;
  }
  int offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const auto offset_hours = digits(text, pos + 1, 2);
    const auto offset_minutes = digits(text, pos + 4, 2);
    if (!offset_hours || !offset_minutes || text[pos + 3] != ':') return std::nullopt;
    offset_seconds = (*offset_hours * 3600 + *offset_minutes * 60) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const auto days = std::chrono::sys_days(date).time_since_epoch().count();
  const double seconds = static_cast<double>(days) * 86400.0 + *hour * 3600 + *minute * 60 + *second - offset_seconds;
  return seconds + fraction;
}

}  // namespace assets::containers
