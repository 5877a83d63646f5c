// The configuration mechanism: the document, the global section, and a loop over the
// registry in which each collector decodes its own section.
#include "agent/config.h"

#include <algorithm>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "agent/collector.h"
#include "agent/config_reader.h"
#include "agent/utf8.h"

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
  if (const auto invalid = first_invalid_utf8(yaml)) {
    YAML::Mark mark;
    const std::string_view before = yaml.substr(0, *invalid);
    mark.line = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    const auto line_start = before.rfind('\n');
    mark.column = static_cast<int>(line_start == std::string_view::npos ? *invalid : *invalid - line_start - 1);
    reader.error(mark, "", "not valid UTF-8");
    return result;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::DeepRecursion& e) {
    reader.error(e.mark, "", "invalid YAML: nested deeper than " + std::to_string(e.depth()) + " levels");
    return result;
  } catch (const YAML::ParserException& e) {
    reader.error(e.mark, "", "invalid YAML: " + e.msg);
    return result;
  }
  Config config;
  config.source = file;
  if (root.IsNull()) {
    reader.error(YAML::Mark::null_mark(), "", "the configuration is empty");
    return result;
  }
  MapReader top(reader, root, "");
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
    std::stable_sort(result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
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
