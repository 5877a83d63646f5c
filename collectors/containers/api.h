#pragma once
// The Docker Engine API's JSON, as Docker (v1.41+) and Podman's compatible service speak it.
// Pure functions: they take response bodies and return values or an error text; the
// collector does all I/O. Unknown fields are ignored and missing ones take defaults, so
// both dialects (and newer API versions) parse.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace assets::containers {

inline constexpr std::string_view kComposeServiceLabel = "com.docker.compose.service";
inline constexpr std::string_view kComposeProjectLabel = "com.docker.compose.project";

// The one-hot value sets of assets_container_state and assets_container_health_status.
inline constexpr std::string_view kStates[] = {"created", "running", "paused", "restarting",
                                               "removing", "exited", "dead"};
inline constexpr std::string_view kHealthStatuses[] = {"none", "starting", "healthy", "unhealthy"};

template <typename T>
struct Parsed {
  std::optional<T> value;
  std::string error;  // set when value is empty; names the problem, never quotes the body
};

struct ApiVersion {
  int major = 0;
  int minor = 0;
  auto operator<=>(const ApiVersion&) const = default;
  std::string to_string() const;  // "1.41"
};
std::optional<ApiVersion> parse_api_version(std::string_view text);

// The oldest API the agent speaks (Docker 19.03, Podman 3); older engines are an api_error.
inline constexpr ApiVersion kMinApiVersion{1, 40};

// GET /version
struct EngineVersion {
  std::string version;      // "24.0.7", "4.3.1"
  ApiVersion api_version;   // the newest API the engine speaks
  bool podman = false;      // Podman's service: its /events needs stream=false instead of until
};
Parsed<EngineVersion> parse_version(std::string_view body);

// One entry of GET /containers/json?all=1.
struct ListedContainer {
  std::string id;
  std::string name;   // without Docker's leading "/"
  std::string image;
  std::string state;  // normalised to kStates
  std::string status; // the engine's human text, e.g. "Up 5 minutes (healthy)"
  std::map<std::string, std::string> labels;
  // Every field of the entry that changes when the container's state does, without the
  // ages in Status ("Up 5 minutes") that change all the time.
  std::string change_signature;
};
Parsed<std::vector<ListedContainer>> parse_container_list(std::string_view body);

// GET /containers/{id}/json, or what a list entry tells when no inspect is at hand.
struct ContainerDetails {
  std::string id;
  std::string name;
  std::string image;
  std::map<std::string, std::string> labels;
  std::string state;   // kStates
  std::string health;  // kHealthStatuses
  std::optional<std::int64_t> restart_count;
  std::optional<std::int64_t> exit_code;
  std::optional<bool> oom_killed;
  std::optional<double> started_at;  // Unix seconds; empty when never started
  std::optional<double> finished_at;  // Unix seconds of the last exit; empty when it never exited
};
Parsed<ContainerDetails> parse_inspect(std::string_view body);
// The coarser view a list entry gives (state, health and exit code from Status).
ContainerDetails details_from_list(const ListedContainer& entry);

// A container event of GET /events (a sequence of JSON objects, one a line).
struct ContainerEvent {
  std::string container_id;
  std::string action;  // "start", "die", "health_status: healthy", ...
};
struct EventBatch {
  std::vector<ContainerEvent> container_events;
  std::size_t total_events = 0;  // of every type, for Docker's event buffer limit
};
Parsed<EventBatch> parse_events(std::string_view body);
// False only for events that never change state, health or restarts (exec, attach, ...).
bool event_may_change_state(std::string_view action);

// RFC 3339 with optional fraction and offset, as the API writes StartedAt; nullopt for
// malformed text and for Go's zero time (0001-01-01T00:00:00Z, "never").
std::optional<double> parse_timestamp(std::string_view text);

// Maps Docker's and Podman's state names to kStates.
std::string normalize_state(std::string_view state);
std::string normalize_health(std::string_view health);

}  // namespace assets::containers
