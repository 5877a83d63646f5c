// The configuration mechanism: the document, the global section, and a loop over the
// registry in which each collector decodes its own section.
#include "agent/config.h"

#include <algorithm>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "agent/collector.h"
#include "agent/config_reader.h"

namespace assets {
namespace {

constexpr std::uint64_t kMaxConfigBytes = 4 << 20;

void decode_global(ConfigReader& reader, const YAML::Node& node, GlobalConfig& global) {
  MapReader map(reader, node, "global");
  if (!map.valid()) return;
  const Schedule schedule = read_schedule(reader, map, GlobalConfig{});
  global.interval = schedule.interval;
  global.timeout = schedule.timeout;
  map.read("max_parallel", global.max_parallel, 1, 256);
  map.finish();
}

}  // namespace

ConfigResult parse_config(std::string_view yaml, const std::string& file, const ConfigOptions& options,
                          std::span<const CollectorKind> kinds) {
  ConfigResult result;
  ConfigReader reader(file, result.errors, options);
  // Label values come from here (check and set names): one byte that is not UTF-8 would
  // make Prometheus reject every sample of a scrape.
  const std::optional<YAML::Node> root = parse_yaml_document(yaml, reader);
  if (!root) return result;
  Config config;
  config.source = file;
  MapReader top(reader, *root, "");
  if (!top.valid()) return result;
  // global first: the sections' defaults and checks depend on it.
  if (const YAML::Node global = top.get("global"); global.IsDefined()) decode_global(reader, global, config.global);
  for (const CollectorKind& kind : kinds) {
    const YAML::Node node = top.get(kind.name);
    if (!node.IsDefined()) continue;
    if (auto section = kind.decode(SectionInput{reader, node, config.global})) {
      config.sections.emplace(std::string(kind.name), std::move(section));
    }
  }
  top.finish();
  if (result.errors.empty()) {
    result.config = std::move(config);
  } else {
    sort_by_position(result.errors);
  }
  return result;
}

ConfigResult load_config_file(const std::string& path, const ConfigOptions& options,
                              std::span<const CollectorKind> kinds) {
  std::string why;
  auto text = read_small_file(path, kMaxConfigBytes, why);
  if (!text) {
    ConfigResult result;
    result.errors.push_back(ConfigError{path, 0, 0, "", why});
    return result;
  }
  return parse_config(*text, path, options, kinds);
}

ConfigResult load_default_config(std::span<const CollectorKind> kinds) {
  return parse_config(embedded_default_config(), "<embedded default>", {}, kinds);
}

}  // namespace assets
