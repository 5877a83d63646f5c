#include "agent/config_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <tuple>

#include <unistd.h>

#include <yaml-cpp/depthguard.h>

#include "agent/files.h"
#include "agent/utf8.h"

namespace assets {
namespace {

constexpr std::uint64_t kMaxSecretFileBytes = 64 << 10;
// A value with ${VAR} expanded; the file itself is bounded by its own limit.
constexpr std::size_t kMaxExpandedValueBytes = 1 << 20;
constexpr std::size_t kMaxQuotedBytes = 80;

std::string_view node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "empty";
    default: return "a scalar";
  }
}

std::string trim_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

std::string quote(std::string_view value) {
  if (value.size() <= kMaxQuotedBytes) return "\"" + std::string(value) + "\"";
  std::size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;  // whole characters only
  return "\"" + std::string(value.substr(0, cut)) + "...\" (" + std::to_string(value.size()) + " bytes)";
}

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

void ConfigReader::error(const YAML::Mark& mark, std::string path, std::string message) {
  ConfigError e;
  e.file = file_;
  if (!mark.is_null()) {
    e.line = mark.line + 1;
    e.column = mark.column + 1;
  }
  e.path = std::move(path);
  e.message = std::move(message);
  errors_.push_back(std::move(e));
}

std::optional<std::string> ConfigReader::scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) {
    error(node, path, "must be a value, not " + std::string(node_kind(node)));
    return std::nullopt;
  }
  // "?" and "!" are the tags of plain and quoted scalars, and !!str says what the reader
  // does anyway; any other (!!binary, !!int...) would change the meaning of the text.
  if (node.Tag() != "?" && node.Tag() != "!" && node.Tag() != "tag:yaml.org,2002:str") {
    error(node, path, "YAML tags are not supported here (" + quote(node.Tag()) + ")");
    return std::nullopt;
  }
  const std::string& raw = node.Scalar();
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '$' || i + 1 >= raw.size()) {
      out += raw[i];
    } else if (raw[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (raw[i + 1] == '{') {
      const auto end = raw.find('}', i + 2);
      if (end == std::string::npos) {
        error(node, path, "unterminated ${ in value");
        return std::nullopt;
      }
      const std::string name = raw.substr(i + 2, end - i - 2);
      const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
      if (value == nullptr) {
        error(node, path, "environment variable " + (name.empty() ? std::string("(empty name)") : name) + " is not set");
        return std::nullopt;
      }
      if (std::strlen(value) > kMaxExpandedValueBytes - std::min(out.size(), kMaxExpandedValueBytes)) {
        error(node, path, "environment variable " + name + " makes the value longer than " +
                              format_size(kMaxExpandedValueBytes));
        return std::nullopt;
      }
      if (!is_valid_utf8(value)) {
        error(node, path, "environment variable " + name + " is not valid UTF-8");
        return std::nullopt;
      }
      out += value;
      i = end;
    } else {
      out += raw[i];
    }
  }
  return out;
}

MapReader::MapReader(ConfigReader& reader, const YAML::Node& node, std::string map_path)
    : reader_(reader), node_(node), path_(std::move(map_path)) {
  if (!node.IsMap()) {
    reader_.error(node, path_.empty() ? "(top level)" : path_, "must be a mapping, not " + std::string(node_kind(node)));
    return;
  }
  valid_ = true;
  std::set<std::string, std::less<>> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      reader_.error(entry.first, path_, "keys must be plain names");
      continue;
    }
    if (!seen.insert(entry.first.Scalar()).second) {
      reader_.error(entry.first, this->path(entry.first.Scalar()), "duplicate key");
    }
  }
}

bool MapReader::has(std::string_view key) const {
  if (!valid_) return false;
  for (const auto& entry : node_) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) return true;
  }
  return false;
}

std::string MapReader::path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

YAML::Node MapReader::get(std::string_view key) {
  known_.emplace(key);
  if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& entry : node_) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) return entry.second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

void MapReader::require(std::string_view key) {
  known_.emplace(key);
  if (valid_ && !has(key)) reader_.error(node_, path(key), "is required");
}

bool MapReader::read(std::string_view key, std::string& out) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return false;
  auto text = reader_.scalar(value, path(key));
  if (!text) return false;
  out = std::move(*text);
  return true;
}

void MapReader::read(std::string_view key, bool& out) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  const auto text = reader_.scalar(value, path(key));
  if (!text) return;
  if (*text == "true") {
    out = true;
  } else if (*text == "false") {
    out = false;
  } else {
    reader_.error(value, path(key), "must be true or false, not " + quote(*text));
  }
}

void MapReader::read(std::string_view key, int& out, int min, int max) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  const auto text = reader_.scalar(value, path(key));
  if (!text) return;
  char* end = nullptr;
  errno = 0;
  const long number = std::strtol(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno != 0) {
    reader_.error(value, path(key), "must be a whole number, not " + quote(*text));
  } else if (number < min || number > max) {
    reader_.error(value, path(key), "must be between " + std::to_string(min) + " and " + std::to_string(max));
  } else {
    out = static_cast<int>(number);
  }
}

void MapReader::read(std::string_view key, std::vector<std::string>& out) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  if (!value.IsSequence()) {
    reader_.error(value, path(key), "must be a list, not " + std::string(node_kind(value)));
    return;
  }
  out.clear();
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (auto text = reader_.scalar(value[i], path(key) + "[" + std::to_string(i) + "]")) out.push_back(std::move(*text));
  }
}

void MapReader::read(std::string_view key, std::map<std::string, std::string>& out) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  if (!value.IsMap()) {
    reader_.error(value, path(key), "must be a mapping, not " + std::string(node_kind(value)));
    return;
  }
  out.clear();
  for (const auto& entry : value) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
    if (auto text = reader_.scalar(entry.second, path(key) + "." + name)) out[name] = std::move(*text);
  }
}

void MapReader::read_duration(std::string_view key, Duration& out) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  const auto text = reader_.scalar(value, path(key));
  if (!text) return;
  if (auto parsed = parse_duration(*text)) {
    out = *parsed;
  } else {
    reader_.error(value, path(key), "not a valid duration: " + quote(*text) + " (examples: 500ms, 30s, 5m, 26h, 30d)");
  }
}

void MapReader::read_size(std::string_view key, std::uint64_t& out, std::uint64_t max) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  const auto text = reader_.scalar(value, path(key));
  if (!text) return;
  if (auto parsed = parse_size(*text)) {
    if (*parsed > max) {
      reader_.error(value, path(key), "must be at most " + format_size(max) + ", not " + quote(*text));
      return;
    }
    out = *parsed;
  } else {
    reader_.error(value, path(key), "not a valid size: " + quote(*text) + " (examples: 512, 1KiB, 10MiB, 1GB)");
  }
}

void MapReader::read_regex(std::string_view key, Regex& out) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  auto text = reader_.scalar(value, path(key));
  if (!text) return;
  Regex regex(std::move(*text));
  if (!regex.ok()) {
    reader_.error(value, path(key), "invalid regular expression: " + regex.error());
    return;
  }
  out = std::move(regex);
}

void MapReader::read_regex_list(std::string_view key, std::vector<Regex>& out) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  if (!value.IsSequence()) {
    reader_.error(value, path(key), "must be a list, not " + std::string(node_kind(value)));
    return;
  }
  out.clear();
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string item_path = path(key) + "[" + std::to_string(i) + "]";
    auto text = reader_.scalar(value[i], item_path);
    if (!text) continue;
    Regex regex(std::move(*text));
    if (!regex.ok()) {
      reader_.error(value[i], item_path, "invalid regular expression: " + regex.error());
      continue;
    }
    out.push_back(std::move(regex));
  }
}

void MapReader::read_secret(std::string_view key, Secret& out) {
  const std::string file_key = std::string(key) + "_file";
  const YAML::Node inline_value = get(key);
  const YAML::Node file_value = get(file_key);
  if (inline_value.IsDefined() && file_value.IsDefined()) {
    reader_.error(file_value, path(file_key), "give either " + std::string(key) + " or " + file_key + ", not both");
    return;
  }
  if (inline_value.IsDefined()) {
    if (!inline_value.IsScalar()) {
      reader_.error(inline_value, path(key), "must be a value, not " + std::string(node_kind(inline_value)));
      return;
    }
    if (auto text = reader_.scalar(inline_value, path(key))) out = Secret(std::move(*text));
    return;
  }
  if (file_value.IsDefined()) {
    const auto file_path = reader_.scalar(file_value, path(file_key));
    if (!file_path || !reader_.options().read_named_files) return;
    std::string why;
    if (auto contents = read_small_file(*file_path, kMaxSecretFileBytes, why)) {
      out = Secret(trim_trailing_newlines(std::move(*contents)));
    } else {
      reader_.error(file_value, path(file_key), why);
    }
  }
}

void MapReader::read_file_contents(std::string_view key, std::string& out, std::uint64_t limit) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return;
  const auto file_path = reader_.scalar(value, path(key));
  if (!file_path || !reader_.options().read_named_files) return;
  std::string why;
  if (auto contents = read_small_file(*file_path, limit, why)) {
    out = std::move(*contents);
  } else {
    reader_.error(value, path(key), why);
  }
}

std::optional<std::size_t> MapReader::read_index_of(std::string_view key, std::span<const std::string_view> names) {
  const YAML::Node value = get(key);
  if (!value.IsDefined()) return std::nullopt;
  const auto text = reader_.scalar(value, path(key));
  if (!text) return std::nullopt;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == *text) return i;
  }
  std::string listed;
  for (const auto name : names) {
    if (name.empty()) continue;  // the unset default is not offered
    listed += (listed.empty() ? "" : ", ") + std::string(name);
  }
  reader_.error(value, path(key), "must be one of " + listed + ", not " + quote(*text));
  return std::nullopt;
}

void MapReader::finish() {
  if (!valid_) return;
  for (const auto& entry : node_) {
    if (!entry.first.IsScalar()) continue;
    if (!known_.contains(entry.first.Scalar())) {
      reader_.error(entry.first, path(entry.first.Scalar()), "unknown key");
    }
  }
}

std::optional<std::string> read_small_file(const std::string& path, std::uint64_t limit, std::string& error) {
  FileReadError failure;
  auto contents = read_regular_file(path, limit, failure);
  if (!contents) error = std::move(failure.message);
  return contents;
}

bool MapReader::read_path_of_regular_file(std::string_view key, std::string& out) {
  if (!read(key, out) || out.empty() || !reader_.options().read_named_files) return false;
  FileReadError failure;
  const int fd = open_regular_file(out, failure);
  if (fd < 0) {
    reader_.error(get(key), path(key), failure.message);
    return false;
  }
  close(fd);
  return true;
}

MapSection open_map_section(ConfigReader& reader, const YAML::Node& node, const std::string& name,
                            const GlobalConfig& global) {
  MapSection section;
  section.schedule = {global.interval, global.timeout};
  if (node.IsNull()) return section;
  MapReader& map = section.map.emplace(reader, node, name);
  if (!map.valid()) {
    section.map.reset();
    return section;
  }
  map.read("enabled", section.enabled);
  section.schedule = read_schedule(reader, map, global);
  return section;
}

std::string indexed(const std::string& path, std::size_t index) { return path + "[" + std::to_string(index) + "]"; }

Schedule read_schedule(ConfigReader& reader, MapReader& map, const GlobalConfig& global) {
  // A value that could not be read stays unset, so it is reported once, not twice.
  Duration interval{0};
  Duration timeout{0};
  std::size_t errors = reader.error_count();
  map.read_duration("interval", interval);
  const bool interval_read = map.has("interval") && reader.error_count() == errors;
  errors = reader.error_count();
  map.read_duration("timeout", timeout);
  const bool timeout_read = map.has("timeout") && reader.error_count() == errors;
  const Schedule schedule{interval.count() == 0 ? global.interval : interval,
                          timeout.count() == 0 ? global.timeout : timeout};
  if (interval_read && interval.count() <= 0) {
    reader.error(map.get("interval"), map.path("interval"), "must be greater than 0");
  }
  if (timeout_read && timeout.count() <= 0) {
    reader.error(map.get("timeout"), map.path("timeout"), "must be greater than 0");
  } else if (schedule.timeout >= schedule.interval) {
    const YAML::Node where = map.has("timeout") ? map.get("timeout") : map.has("interval") ? map.get("interval") : map.node();
    reader.error(where, map.path("timeout"),
                 "must be shorter than interval (" + format_duration(schedule.timeout) + " >= " +
                     format_duration(schedule.interval) + ")");
  }
  return schedule;
}

std::optional<YAML::Node> parse_yaml_document(std::string_view yaml, ConfigReader& reader) {
  if (const auto invalid = first_invalid_utf8(yaml)) {
    YAML::Mark mark;
    const std::string_view before = yaml.substr(0, *invalid);
    mark.line = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    const auto line_start = before.rfind('\n');
    mark.column = static_cast<int>(line_start == std::string_view::npos ? *invalid : *invalid - line_start - 1);
    reader.error(mark, "", "not valid UTF-8");
    return std::nullopt;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::DeepRecursion& e) {
    reader.error(e.mark, "", "invalid YAML: nested deeper than " + std::to_string(e.depth()) + " levels");
    return std::nullopt;
  } catch (const YAML::ParserException& e) {
    reader.error(e.mark, "", "invalid YAML: " + e.msg);
    return std::nullopt;
  }
  if (root.IsNull()) {
    reader.error(YAML::Mark::null_mark(), "", "the configuration is empty");
    return std::nullopt;
  }
  return root;
}

void sort_by_position(std::vector<ConfigError>& errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
}

}  // namespace assets
