#include "collectors/certificates/config.h"

#include <set>

#include "agent/config_reader.h"
#include "agent/host_port.h"

namespace assets {
namespace {

// The highest max_file_bytes: memory held per file while it is read.
constexpr std::uint64_t kMaxReadLimitBytes = 64 << 20;

std::optional<Duration> read_optional_duration(MapReader& map, std::string_view key) {
  if (!map.has(key)) return std::nullopt;
  Duration value{};
  map.read_duration(key, value);
  return value;
}

void decode_endpoints(ConfigReader& reader, MapReader& map, CertificatesConfig& certs) {
  const YAML::Node endpoints = map.get("endpoints");
  if (!endpoints.IsDefined()) return;
  if (!endpoints.IsSequence()) {
    reader.error(endpoints, map.path("endpoints"), "must be a list of endpoints");
    return;
  }
  std::set<std::string, std::less<>> addresses;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    MapReader endpoint_map(reader, endpoints[i], indexed(map.path("endpoints"), i));
    if (!endpoint_map.valid()) continue;
    CertEndpointConfig endpoint;
    endpoint_map.require("address");
    const bool has_address = endpoint_map.read("address", endpoint.address);
    if (has_address && !split_host_port(endpoint.address)) {
      reader.error(endpoint_map.get("address"), endpoint_map.path("address"),
                   "must be host:port, not " + quote(endpoint.address));
    } else if (!endpoint.address.empty() && !addresses.insert(endpoint.address).second) {
      reader.error(endpoint_map.get("address"), endpoint_map.path("address"),
                   "duplicate endpoint " + quote(endpoint.address));
    }
    endpoint_map.read("server_name", endpoint.server_name);
    endpoint_map.read_duration("timeout", endpoint.timeout);
    endpoint_map.read_path_of_regular_file("ca_file", endpoint.ca_file);
    endpoint.expiry_warning = read_optional_duration(endpoint_map, "expiry_warning");
    endpoint.expiry_critical = read_optional_duration(endpoint_map, "expiry_critical");
    if (endpoint.timeout > certs.timeout) {
      reader.error(endpoint_map.get("timeout"), endpoint_map.path("timeout"),
                   "must not be longer than the section's timeout (" + format_duration(certs.timeout) + ")");
    }
    if (endpoint.timeout.count() <= 0) endpoint.timeout = certs.timeout;
    endpoint_map.finish();
    certs.endpoints.push_back(std::move(endpoint));
  }
}

}  // namespace

std::shared_ptr<const CertificatesConfig> decode_certificates_section(const SectionInput& input) {
  ConfigReader& reader = input.reader;
  MapSection section = open_map_section(reader, input.node, "certificates", input.global);
  auto certs = std::make_shared<CertificatesConfig>();
  certs->interval = section.schedule.interval;
  certs->timeout = section.schedule.timeout;
  if (!section.map) return certs;
  MapReader& map = *section.map;
  map.read("files", certs->files);
  map.read("exclude", certs->exclude);
  map.read_duration("expiry_warning", certs->expiry_warning);
  map.read_duration("expiry_critical", certs->expiry_critical);
  map.read_size("max_file_bytes", certs->max_file_bytes, kMaxReadLimitBytes);
  map.read("max_parallel", certs->max_parallel, 1, 256);
  if (certs->expiry_critical > certs->expiry_warning) {
    reader.error(map.get("expiry_critical"), map.path("expiry_critical"), "must not be longer than expiry_warning");
  }
  decode_endpoints(reader, map, *certs);
  map.finish();
  return section.enabled ? certs : nullptr;
}

}  // namespace assets
