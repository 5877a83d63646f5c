#include "collectors/containers/containers.h"

#include <algorithm>
#include <cstdio>
#include <new>
#include <thread>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "agent/fan_out.h"
#include "agent/log.h"
#include "agent/metrics.h"

namespace assets {
namespace {

using namespace containers;
using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

constexpr std::size_t kMaxVersionBytes = 64 << 10;
constexpr std::size_t kMaxListBytes = 32 << 20;
constexpr std::size_t kMaxInspectBytes = 4 << 20;
constexpr std::size_t kMaxEventsBytes = 8 << 20;
// Docker replays at most this many past events; a reply that long may have lost older ones.
constexpr std::size_t kDockerEventBuffer = 256;

constexpr const char* kCachedNote = " (cached from the containers collector's last background run)";

std::string help(const char* text) { return std::string(text) + kCachedNote; }

// libcurl's escaping (RFC 3986 unreserved characters kept); the handle argument is unused.
std::string percent_encode(std::string_view text) {
  char* escaped = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  if (escaped == nullptr) throw std::bad_alloc();
  std::string out(escaped);
  curl_free(escaped);
  return out;
}

// "1700000000.123456789": the since/until format both Docker and Podman accept.
std::string unix_time_text(WallClock::time_point time) {
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  char text[48];
  std::snprintf(text, sizeof text, "%lld.%09lld", static_cast<long long>(nanos / 1'000'000'000),
                static_cast<long long>(nanos % 1'000'000'000));
  return text;
}

std::string label_or_empty(const std::map<std::string, std::string>& labels, std::string_view key) {
  const auto it = labels.find(std::string(key));
  return it == labels.end() ? std::string() : it->second;
}

struct ExpectedService {
  std::string project;  // empty: any project
  std::string service;
};

// "service", or "project/service" (compose names cannot contain "/"). A bare service
// takes the project that include_labels pins, if any.
ExpectedService parse_expected(const std::string& entry, const ContainersConfig& config) {
  const std::size_t slash = entry.find('/');
  if (slash != std::string::npos) return {entry.substr(0, slash), entry.substr(slash + 1)};
  return {label_or_empty(config.include_labels, kComposeProjectLabel), entry};
}

Duration request_timeout(const CollectContext& context) { return std::max(context.remaining(), Duration(0)); }

// A reply the collector can use: a complete 2xx response. Anything else becomes a failure
// with its reason.
struct Checked {
  EngineFailure failure = EngineFailure::none;
  std::string detail;
};

Checked check(const EngineReply& reply, std::string_view what) {
  if (reply.failure != EngineFailure::none) return {reply.failure, std::string(what) + ": " + reply.detail};
  if (reply.status < 200 || reply.status > 299) {
    // A socket proxy refusing the request is a permission problem, not the engine's.
    const bool refused = reply.status == 401 || reply.status == 403;
    return {refused ? EngineFailure::permission_denied : EngineFailure::api_error,
            std::string(what) + ": HTTP " + std::to_string(reply.status)};
  }
  return {};
}

// Docker and Podman name their version in headers of every response; a change means
// another engine (an upgrade) answers now.
std::string fingerprint(const EngineReply& reply) {
  const auto header = [&](const std::string& name) {
    const auto it = reply.headers.find(name);
    return it == reply.headers.end() ? std::string() : it->second;
  };
  return header("api-version") + "|" + header("server");
}

// Why a container needs attention, as a bounded reason; empty when it does not. A
// one-shot container that exited with 0 is fine; whether a service must run is what
// expected_services says.
std::string trouble(const ContainerDetails& details) {
  if (details.oom_killed.value_or(false)) return "oom_killed";
  if (details.state == "running") return details.health == "unhealthy" ? "unhealthy" : "";
  if (details.state == "exited") return details.exit_code.value_or(0) == 0 ? "" : "exited";
  if (details.state == "created") return "";
  return details.state;  // paused, restarting, removing, dead
}

std::string describe(const ContainerDetails& details) {
  std::string text = details.state;
  if (details.state == "exited" && details.exit_code) text += " with code " + std::to_string(*details.exit_code);
  if (details.health != "none") text += ", " + details.health;
  if (details.oom_killed.value_or(false)) text += ", OOM-killed";
  if (details.restart_count.value_or(0) > 0) text += ", restarted " + std::to_string(*details.restart_count) + " times";
  return text;
}

}  // namespace

ContainersCollector::ContainersCollector(ContainersConfig config, std::unique_ptr<EngineTransport> transport)
    : config_(std::move(config)), transport_(std::move(transport)) {}

bool ContainersCollector::included(const ListedContainer& container) const {
  const auto matches_name = [&](const Regex& regex) { return regex.full_match(container.name); };
  if (!config_.include.empty() && std::none_of(config_.include.begin(), config_.include.end(), matches_name)) {
    return false;
  }
  if (std::any_of(config_.exclude.begin(), config_.exclude.end(), matches_name)) return false;
  for (const auto& [key, value] : config_.include_labels) {
    const auto it = container.labels.find(key);
    if (it == container.labels.end() || it->second != value) return false;
  }
  for (const auto& [key, value] : config_.exclude_labels) {
    const auto it = container.labels.find(key);
    if (it != container.labels.end() && it->second == value) return false;
  }
  return true;
}

std::string ContainersCollector::list_target() const {
  std::string target = api_prefix_ + "/containers/json?all=1";
  if (!config_.include_labels.empty()) {
    // Lets the engine drop other projects' containers; included() checks again anyway.
    nlohmann::json labels = nlohmann::json::array();
    for (const auto& [key, value] : config_.include_labels) labels.push_back(key + "=" + value);
    target += "&filters=" + percent_encode(nlohmann::json{{"label", labels}}.dump());
  }
  return target;
}

std::optional<ContainersCollector::Failure> ContainersCollector::learn_version(const CollectContext& context) {
  version_.reset();
  const EngineReply reply = transport_->get("/version", request_timeout(context), kMaxVersionBytes, context.stop);
  if (const Checked checked = check(reply, "version"); checked.failure != EngineFailure::none) {
    return Failure{checked.failure, checked.detail};
  }
  auto parsed = parse_version(reply.body);
  if (!parsed.value) return Failure{EngineFailure::protocol, parsed.error};
  if (parsed.value->api_version < kMinApiVersion) {
    return Failure{EngineFailure::api_error, "engine API " + parsed.value->api_version.to_string() +
                                                 " is older than the oldest the agent speaks (" +
                                                 kMinApiVersion.to_string() + ")"};
  }
  version_ = std::move(parsed.value);
  version_fingerprint_ = fingerprint(reply);
  api_prefix_ = "/v" + version_->api_version.to_string();
  return std::nullopt;
}

std::string ContainersCollector::events_target(WallClock::time_point now) const {
  std::string target = api_prefix_ + "/events?since=" + unix_time_text(*synced_at_ - kEventsOverlap);
  if (version_->podman) {
    // Podman ends the reply at the present with stream=false, and drops events when
    // `until` is already past; Docker ignores stream and ends the reply at `until`.
    target += "&stream=false&filters=" + percent_encode(R"({"type":["container"]})");
  } else {
    // Unfiltered: its length tells whether Docker's event buffer may have overflowed.
    target += "&until=" + unix_time_text(now);
  }
  return target;
}

std::optional<std::set<std::string>> ContainersCollector::changed_by_events(const CollectContext& context) {
  if (!synced_at_ || config_.resync_interval.count() <= 0) return std::nullopt;
  const EngineReply reply =
      transport_->get(events_target(WallClock::now()), request_timeout(context), kMaxEventsBytes, context.stop);
  std::string problem;
  if (const Checked checked = check(reply, "events"); checked.failure != EngineFailure::none) {
    problem = checked.detail;
  } else if (auto events = parse_events(reply.body); !events.value) {
    problem = events.error;
  } else if (!version_->podman && events.value->total_events >= kDockerEventBuffer) {
    problem = "more events than the engine keeps since the last run";
  } else {
    std::set<std::string> changed;
    for (const auto& event : events.value->container_events) {
      if (event_may_change_state(event.action)) changed.insert(event.container_id);
    }
    return changed;
  }
  log::warn("containers: events incomplete, inspecting every container",
            {{"engine", transport_->endpoint()}, {"detail", problem}});
  return std::nullopt;
}

std::vector<std::string> ContainersCollector::choose_inspections(const std::vector<ListedContainer>& listed,
                                                                 const std::optional<std::set<std::string>>& event_changes,
                                                                 Clock::time_point now) {
  std::vector<std::string> chosen;
  std::vector<std::pair<Clock::time_point, std::string>> unchanged;
  for (const auto& container : listed) {
    const auto known = known_.find(container.id);
    const bool changed = !event_changes || event_changes->contains(container.id) || known == known_.end() ||
                         !known->second.inspected || known->second.change_signature != container.change_signature;
    if (changed) {
      chosen.push_back(container.id);
    } else {
      unchanged.emplace_back(known->second.inspected_at, container.id);
    }
  }
  if (!event_changes || !last_run_) {
    resync_credit_ = 0;
    return chosen;
  }
  // The rolling resync: each run re-inspects the longest-unchecked share of unchanged
  // containers, so every container is inspected at least once per resync_interval
  // without a burst of inspections every resync_interval.
  const double elapsed = std::chrono::duration<double>(now - *last_run_).count();
  const double count = static_cast<double>(listed.size());
  resync_credit_ = std::min(resync_credit_ + count * elapsed / to_seconds(config_.resync_interval), count);
  const auto due = std::min(static_cast<std::size_t>(resync_credit_), unchanged.size());
  std::partial_sort(unchanged.begin(), unchanged.begin() + static_cast<std::ptrdiff_t>(due), unchanged.end());
  for (std::size_t i = 0; i < due; ++i) chosen.push_back(unchanged[i].second);
  resync_credit_ -= static_cast<double>(due);
  return chosen;
}

void ContainersCollector::inspect(const CollectContext& context, const std::vector<std::string>& ids,
                                  const std::map<std::string, const ListedContainer*>& by_id) {
  enum class Outcome { not_tried, inspected, gone, failed };
  struct Result {
    Outcome outcome = Outcome::not_tried;
    ContainerDetails details;
    std::string detail;
  };
  std::vector<Result> results(ids.size());
  fan_out(ids.size(), static_cast<std::size_t>(config_.max_parallel_inspects), context.stop, [&](std::size_t i) {
    if (context.remaining() <= Duration(0)) return;
    const EngineReply reply =
        transport_->get(api_prefix_ + "/containers/" + ids[i] + "/json", request_timeout(context), kMaxInspectBytes, context.stop);
    Result& result = results[i];
    if (reply.failure == EngineFailure::none && reply.status == 404) {
      result.outcome = Outcome::gone;  // removed between list and inspect
    } else if (const Checked checked = check(reply, "inspect"); checked.failure != EngineFailure::none) {
      result.outcome = Outcome::failed;
      result.detail = checked.detail;
    } else if (auto parsed = parse_inspect(reply.body); !parsed.value) {
      result.outcome = Outcome::failed;
      result.detail = parsed.error;
    } else {
      result.outcome = Outcome::inspected;
      result.details = std::move(*parsed.value);
    }
  });

  const Clock::time_point now = Clock::now();
  std::size_t failures = 0;
  std::string first_failure;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const ListedContainer& listed = *by_id.at(ids[i]);
    Result& result = results[i];
    switch (result.outcome) {
      case Outcome::gone:
        known_.erase(ids[i]);
        break;
      case Outcome::inspected: {
        Known& known = known_[ids[i]];
        known.details = std::move(result.details);
        known.change_signature = listed.change_signature;
        known.inspected_at = now;
        known.inspected = true;
        break;
      }
      case Outcome::failed:
      case Outcome::not_tried: {
        // Keep what is known (or what the list tells) and try again next run.
        const auto it = known_.find(ids[i]);
        Known& known = it != known_.end() ? it->second : known_[ids[i]];
        if (it == known_.end() || !known.inspected) known.details = details_from_list(listed);
        known.inspected = false;
        ++failures;
        if (first_failure.empty()) first_failure = result.outcome == Outcome::failed ? result.detail : "run deadline";
        break;
      }
    }
  }
  if (failures > 0) {
    log::warn("containers: some inspections failed; using list data until the next run",
              {{"engine", transport_->endpoint()}, {"count", std::to_string(failures)}, {"detail", first_failure}});
  }
}

void ContainersCollector::forget_history() {
  version_.reset();
  known_.clear();
  synced_at_.reset();
  last_run_.reset();
  resync_credit_ = 0;
}

CollectResult ContainersCollector::collect(const CollectContext& context) {
  const Clock::time_point started = Clock::now();
  const WallClock::time_point started_wall = WallClock::now();
  MetricsBuilder metrics;
  CollectResult result;
  TargetStatus engine_status{transport_->endpoint(), "engine", false, {}, {}, 0};

  auto engine_failed = [&](EngineFailure failure, std::string detail) {
    // What the engine said before may no longer hold (a restarted Docker daemon forgets
    // its events), so the next good run starts from scratch.
    forget_history();
    metrics.gauge("assets_container_engine_up", help("1 if the container engine answered the last run"))
        .add({}, 0);
    metrics.gauge("assets_container_engine_failure",
                  help("1 while the container engine cannot be read, with the reason"))
        .add({{"reason", std::string(to_string(failure))}}, 1);
    // Once per outage and reason, not every run.
    log::write(failure == last_failure_ ? log::Level::debug : log::Level::warn, "containers: engine unreadable",
               {{"engine", transport_->endpoint()}, {"reason", std::string(to_string(failure))}, {"detail", detail}});
    last_failure_ = failure;
    engine_status.reason = to_string(failure);
    engine_status.detail = std::move(detail);
    engine_status.duration_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    result.targets.push_back(std::move(engine_status));
    result.families = metrics.take();
    return std::move(result);
  };

  if (!version_) {
    if (auto failure = learn_version(context)) return engine_failed(failure->reason, std::move(failure->detail));
  }
  EngineReply list_reply = transport_->get(list_target(), request_timeout(context), kMaxListBytes, context.stop);
  if (list_reply.failure == EngineFailure::none && fingerprint(list_reply) != version_fingerprint_) {
    // Another engine version answers: what was learnt about the old one no longer holds.
    forget_history();
    if (auto failure = learn_version(context)) return engine_failed(failure->reason, std::move(failure->detail));
    list_reply = transport_->get(list_target(), request_timeout(context), kMaxListBytes, context.stop);
  }
  if (const Checked checked = check(list_reply, "container list"); checked.failure != EngineFailure::none) {
    return engine_failed(checked.failure, checked.detail);
  }
  auto listed = parse_container_list(list_reply.body);
  if (!listed.value) return engine_failed(EngineFailure::protocol, listed.error);

  std::vector<ListedContainer> selected;
  for (auto& container : *listed.value) {
    if (included(container)) selected.push_back(std::move(container));
  }
  std::sort(selected.begin(), selected.end(), [](const auto& a, const auto& b) { return a.name < b.name; });

  // Expected services count every selected container, also those beyond max_containers.
  auto& expected_up = metrics.gauge(
      "assets_container_expected_up",
      help("1 if a running container exists for a compose service the config expects, else 0"));
  for (const auto& entry : config_.expected_services) {
    const ExpectedService expected = parse_expected(entry, config_);
    const bool running = std::any_of(selected.begin(), selected.end(), [&](const ListedContainer& c) {
      return c.state == "running" && label_or_empty(c.labels, kComposeServiceLabel) == expected.service &&
             (expected.project.empty() || label_or_empty(c.labels, kComposeProjectLabel) == expected.project);
    });
    expected_up.add({{"service", bounded_label_value(expected.service)}, {"project", bounded_label_value(expected.project)}},
                    running ? 1 : 0);
    result.targets.push_back({expected.project.empty() ? expected.service : expected.project + "/" + expected.service,
                              "service", running, running ? "" : "not_running",
                              running ? "" : "no running container for this expected service", 0});
  }

  const auto limit = static_cast<std::size_t>(std::max(1, config_.max_containers));
  const std::size_t overflow = selected.size() > limit ? selected.size() - limit : 0;
  if (overflow != last_overflow_ && overflow > 0) {
    log::warn("containers: more containers than max_containers; reporting the first by name",
              {{"engine", transport_->endpoint()}, {"containers", std::to_string(selected.size())},
               {"max_containers", std::to_string(limit)}});
  }
  last_overflow_ = overflow;
  selected.resize(std::min(selected.size(), limit));

  const auto event_changes = changed_by_events(context);
  const std::vector<std::string> to_inspect = choose_inspections(selected, event_changes, started);
  std::map<std::string, const ListedContainer*> by_id;
  for (const auto& container : selected) by_id.emplace(container.id, &container);
  inspect(context, to_inspect, by_id);
  std::erase_if(known_, [&](const auto& entry) { return !by_id.contains(entry.first); });
  synced_at_ = started_wall;
  last_run_ = started;
  if (last_failure_ != EngineFailure::none) {
    log::info("containers: engine readable again", {{"engine", transport_->endpoint()}});
    last_failure_ = EngineFailure::none;
  }

  metrics.gauge("assets_container_engine_up", help("1 if the container engine answered the last run")).add({}, 1);
  metrics.gauge("assets_container_engine_info", help("The container engine's version and the API version used"))
      .add({{"version", bounded_label_value(version_->version)}, {"api_version", version_->api_version.to_string()}},
           1);
  auto& info = metrics.gauge("assets_container_info", help("1 for every reported container, with its image"));
  auto& running = metrics.gauge("assets_container_running", help("1 if the container is running"));
  auto& state = metrics.gauge("assets_container_state", help("1 for the container's current state, else 0"));
  auto& health = metrics.gauge("assets_container_health_status",
                               help("1 for the container's health check status (none without a health check)"));
  auto& restarts = metrics.gauge("assets_container_restarts", help("The engine's RestartCount of the container"));
  auto& exit_code = metrics.gauge("assets_container_exit_code", help("The container's last exit code"));
  auto& oom_killed = metrics.gauge("assets_container_oom_killed", help("1 if the container's last exit was an OOM kill"));
  auto& start_time = metrics.gauge("assets_container_start_time_seconds",
                                   help("Unix time the container last started (StartedAt)"));
  auto& finish_time = metrics.gauge("assets_container_finish_time_seconds",
                                    help("Unix time the container last exited (FinishedAt): a new value is a new exit"));
  for (const auto& container : selected) {
    const auto known = known_.find(container.id);
    if (known == known_.end()) continue;  // removed during this run
    const ContainerDetails& details = known->second.details;
    const Labels labels{{"container", bounded_label_value(details.name)},
                        {"service", bounded_label_value(label_or_empty(details.labels, kComposeServiceLabel))},
                        {"project", bounded_label_value(label_or_empty(details.labels, kComposeProjectLabel))}};
    auto with = [&labels](std::string key, std::string_view value) {
      Labels extended = labels;
      extended.emplace_back(std::move(key), std::string(value));
      return extended;
    };
    info.add(with("image", bounded_label_value(details.image)), 1);
    running.add(labels, details.state == "running" ? 1 : 0);
    for (const std::string_view name : kStates) state.add(with("state", name), details.state == name ? 1 : 0);
    for (const std::string_view name : kHealthStatuses) health.add(with("status", name), details.health == name ? 1 : 0);
    if (details.restart_count) restarts.add(labels, static_cast<double>(*details.restart_count));
    if (details.exit_code) exit_code.add(labels, static_cast<double>(*details.exit_code));
    if (details.oom_killed) oom_killed.add(labels, *details.oom_killed ? 1 : 0);
    if (details.started_at) start_time.add(labels, *details.started_at);
    if (details.finished_at) finish_time.add(labels, *details.finished_at);

    std::string reason = trouble(details);
    result.targets.push_back({details.name, "container", reason.empty(), std::move(reason), describe(details), 0});
  }

  engine_status.up = true;
  if (overflow > 0) {
    engine_status.detail = std::to_string(overflow) + " containers beyond max_containers (" + std::to_string(limit) +
                           ") not reported";
  }
  engine_status.duration_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  result.targets.insert(result.targets.begin(), std::move(engine_status));
  result.families = metrics.take();
  return result;
}

std::unique_ptr<Collector> make_containers_collector(const ContainersConfig& config) {
  return std::make_unique<ContainersCollector>(config, make_curl_transport(config));
}

}  // namespace assets
