#pragma once
// Reads typed values out of a YAML tree and records every problem as a ConfigError with
// file:line:column and the key's path. config.cpp reads global with it, and each
// collector's decode its own section.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "agent/config.h"
#include "agent/regex.h"
#include "agent/secret.h"

namespace assets {

// A value for an error message, in quotes; a long one is cut (its length given), so a
// huge ${VAR} never fills a log.
std::string quote(std::string_view value);

class ConfigReader {
 public:
  ConfigReader(std::string file, std::vector<ConfigError>& errors, ConfigOptions options = {})
      : file_(std::move(file)), errors_(errors), options_(options) {}

  void error(const YAML::Mark& mark, std::string path, std::string message);
  void error(const YAML::Node& node, std::string path, std::string message) {
    error(node.Mark(), std::move(path), std::move(message));
  }
  const std::string& file() const { return file_; }
  const ConfigOptions& options() const { return options_; }
  std::size_t error_count() const { return errors_.size(); }

  // Scalar text with ${VAR} expanded ($$ is a literal $). Records an error and returns
  // nullopt when the node is not a scalar or names an unset variable.
  std::optional<std::string> scalar(const YAML::Node& node, const std::string& path);

 private:
  std::string file_;
  std::vector<ConfigError>& errors_;
  ConfigOptions options_;
};

// One mapping in the document. Keys that are never read are reported by finish().
class MapReader {
 public:
  MapReader(ConfigReader& reader, const YAML::Node& node, std::string path);

  bool valid() const { return valid_; }
  bool has(std::string_view key) const;
  const YAML::Node& node() const { return node_; }
  std::string path(std::string_view key) const;
  // The value node of a key (marks it as known); an undefined node when absent.
  YAML::Node get(std::string_view key);
  void require(std::string_view key);

  // True when the key is present and its value was read; checks of the value go after it,
  // so a value that could not be read gets one error, not two.
  bool read(std::string_view key, std::string& out);
  void read(std::string_view key, bool& out);
  void read(std::string_view key, int& out, int min, int max);
  void read(std::string_view key, std::vector<std::string>& out);
  void read(std::string_view key, std::map<std::string, std::string>& out);
  void read_duration(std::string_view key, Duration& out);
  void read_size(std::string_view key, std::uint64_t& out, std::uint64_t max = UINT64_MAX);
  void read_regex(std::string_view key, Regex& out);
  void read_regex_list(std::string_view key, std::vector<Regex>& out);
  // `key` inline or `key_file` read from disk; both is an error. The value never
  // appears in an error message.
  void read_secret(std::string_view key, Secret& out);
  // Reads `key_file` into out as text (size-limited), e.g. body_file.
  void read_file_contents(std::string_view key, std::string& out, std::uint64_t limit);
  // The path of a file that a library opens later with a blocking open (TLS files): a
  // missing file, or a FIFO that would hold a run forever, is an error here instead.
  // Unchecked when the options say the named files are not read.
  bool read_path_of_regular_file(std::string_view key, std::string& out);

  // A value from a fixed table: on a value not in it, the error lists the table's names.
  // False when the key is absent or its value is not one of them (out is left alone).
  template <typename T, std::size_t N>
  bool read_one_of(std::string_view key, T& out, const std::pair<std::string_view, T> (&table)[N]) {
    std::string_view names[N];
    for (std::size_t i = 0; i < N; ++i) names[i] = table[i].first;
    const auto index = read_index_of(key, names);
    if (index) out = table[*index].second;
    return index.has_value();
  }

  // Reports keys that no read touched.
  void finish();

 private:
  std::optional<std::size_t> read_index_of(std::string_view key, std::span<const std::string_view> names);

  ConfigReader& reader_;
  YAML::Node node_;
  std::string path_;
  bool valid_ = false;
  std::set<std::string, std::less<>> known_;
};

// The interval and timeout of a section or target: `interval` and `timeout` from the map,
// where given, else global's. Both must be positive and the timeout shorter.
struct Schedule {
  Duration interval{};
  Duration timeout{};
};
Schedule read_schedule(ConfigReader& reader, MapReader& map, const GlobalConfig& global);

// The opening of a section that is one map (containers:, certificates:): `name:` with no
// value enables it with its defaults and global's schedule; otherwise the map gives
// `enabled` and its own `interval`/`timeout`. `map` is empty when there is nothing more to
// read: no value, or not a map (then the error is recorded).
struct MapSection {
  std::optional<MapReader> map;
  bool enabled = true;
  Schedule schedule;
};
MapSection open_map_section(ConfigReader& reader, const YAML::Node& node, const std::string& name,
                            const GlobalConfig& global);

std::string indexed(const std::string& path, std::size_t index);

// The document's root node; nullopt, with the error recorded, when the text is not UTF-8,
// not YAML, nested too deep, or empty.
std::optional<YAML::Node> parse_yaml_document(std::string_view yaml, ConfigReader& reader);
// Errors in document order, as a reader of the file meets them.
void sort_by_position(std::vector<ConfigError>& errors);

// Reads a whole file with a size limit; returns an error text (without contents) on failure.
std::optional<std::string> read_small_file(const std::string& path, std::uint64_t limit, std::string& error);

}  // namespace assets
