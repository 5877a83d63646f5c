#include "collectors/containers/config.h"

#include "agent/config_reader.h"

namespace assets {

std::shared_ptr<const ContainersConfig> decode_containers_section(const SectionInput& input) {
  ConfigReader& reader = input.reader;
  MapSection section = open_map_section(reader, input.node, "containers", input.global);
  auto containers = std::make_shared<ContainersConfig>();
  containers->interval = section.schedule.interval;
  containers->timeout = section.schedule.timeout;
  if (!section.map) return containers;
  MapReader& map = *section.map;
  map.read("socket", containers->socket);
  map.read("host", containers->host);
  if (!containers->host.empty() && containers->host.rfind("tcp://", 0) != 0) {
    reader.error(map.get("host"), map.path("host"), "must start with tcp://");
  }
  if (map.has("socket") && map.has("host")) {
    reader.error(map.get("host"), map.path("host"), "give either socket or host, not both");
  }
  containers->tls = decode_tls(reader, map);
  map.read_regex_list("include", containers->include);
  map.read_regex_list("exclude", containers->exclude);
  map.read("include_labels", containers->include_labels);
  map.read("exclude_labels", containers->exclude_labels);
  map.read("expected_services", containers->expected_services);
  map.read("max_containers", containers->max_containers, 1, 100000);
  map.read("max_parallel_inspects", containers->max_parallel_inspects, 1, 64);
  map.read_duration("resync_interval", containers->resync_interval);
  map.finish();
  return section.enabled ? containers : nullptr;
}

}  // namespace assets
