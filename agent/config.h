#pragma once
// The agent's configuration: the global section, which the core owns, and one section per
// collector, which each collector decodes and validates itself (see CollectorKind).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/units.h"

namespace assets {

using namespace std::chrono_literals;

struct GlobalConfig {
  Duration interval = 30s;
  Duration timeout = 10s;
  int max_parallel = 8;
  bool operator==(const GlobalConfig&) const = default;
};

// A collector's own part of the configuration: its struct, decoded, validated and compiled
// by the collector itself (collectors/<name>/config.*). The core only keeps it and hands it
// back to the collector's factory.
struct CollectorSection {
  virtual ~CollectorSection() = default;
  // How often the driver runs the collector and how long a run may take, worked out from
  // the section and global when the configuration is read.
  Duration interval{};
  Duration timeout{};
  bool operator==(const CollectorSection&) const = default;
};

struct Config {
  std::string source;  // file path, or "<embedded default>"
  GlobalConfig global;
  // By collector name; a collector the configuration does not enable has no entry.
  std::map<std::string, std::shared_ptr<const CollectorSection>, std::less<>> sections;

  template <typename Section>
  const Section* section(std::string_view name) const {
    const auto it = sections.find(name);
    return it == sections.end() ? nullptr : dynamic_cast<const Section*>(it->second.get());
  }
};



struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when the error has no position
  int column = 0;  // 1-based
  std::string path;  // e.g. health[2].timeout
  std::string message;

  std::string to_string() const;  // file:line:column: path: message
};

struct ConfigResult {
  std::optional<Config> config;
  std::vector<ConfigError> errors;  // every error found, in document order
};

struct ConfigOptions {
  // false: the files the configuration names (secrets, body_file, TLS files) are neither
  // read nor checked, so an example for another host validates (`config check --syntax-only`).
  bool read_named_files = true;
};

struct CollectorKind;
// The collectors linked into the program (collectors/registry.cpp).
std::span<const CollectorKind> collector_registry();

// Parses and validates YAML text: global here, each section by its collector in `kinds`.
// `file` names the source in errors.
ConfigResult parse_config(std::string_view yaml, const std::string& file, const ConfigOptions& options = {},
                          std::span<const CollectorKind> kinds = collector_registry());
// Reads the file (with a size limit) and parses it.
ConfigResult load_config_file(const std::string& path, const ConfigOptions& options = {},
                              std::span<const CollectorKind> kinds = collector_registry());
// The configuration used when no --config.file is given.
std::string_view embedded_default_config();
ConfigResult load_default_config(std::span<const CollectorKind> kinds = collector_registry());

}  // namespace assets
