#pragma once
// The containers collector: the state of every container of a Docker-compatible engine
// (Docker, or Podman's API service), read over the Docker Engine API with GET requests only.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/collector.h"
#include "collectors/containers/api.h"
#include "collectors/containers/config.h"
#include "collectors/containers/engine.h"

namespace assets {

std::unique_ptr<Collector> make_containers_collector(const ContainersConfig& config);

// Keeps the last inspection of every container between runs and inspects again only
// containers whose list entry changed, that had an event since the last run, or whose
// turn in the rolling resync has come (see docs/configuration.md, containers).
class ContainersCollector final : public Collector {
 public:
  // Each events query starts this much before the previous run, so that an event logged
  // with a slightly late timestamp, or by an engine whose clock is a little off, is not missed.
  static constexpr std::chrono::seconds kEventsOverlap{2};

  ContainersCollector(ContainersConfig config, std::unique_ptr<containers::EngineTransport> transport);

 protected:
  CollectResult collect(const CollectContext& context) override;

 private:
  struct Known {
    containers::ContainerDetails details;
    std::string change_signature;
    std::chrono::steady_clock::time_point inspected_at;
    bool inspected = false;  // false: details come from the list only; inspect next run
  };

  struct Failure {
    containers::EngineFailure reason;
    std::string detail;
  };

  // GET /version: the API version to use and the engine_info labels. Asked once, and
  // again after a failure or when the engine's response headers show it changed.
  std::optional<Failure> learn_version(const CollectContext& context);
  bool included(const containers::ListedContainer& container) const;
  std::string list_target() const;
  std::string events_target(std::chrono::system_clock::time_point now) const;
  // Containers with a state-changing event since the last run; nullopt when the events
  // cannot be read completely, so that every container must be inspected.
  std::optional<std::set<std::string>> changed_by_events(const CollectContext& context);
  std::vector<std::string> choose_inspections(const std::vector<containers::ListedContainer>& listed,
                                              const std::optional<std::set<std::string>>& event_changes,
                                              std::chrono::steady_clock::time_point now);
  void inspect(const CollectContext& context, const std::vector<std::string>& ids,
               const std::map<std::string, const containers::ListedContainer*>& by_id);
  void forget_history();

  ContainersConfig config_;
  std::unique_ptr<containers::EngineTransport> transport_;
  std::optional<containers::EngineVersion> version_;
  std::string version_fingerprint_;  // the Api-Version and Server headers it came with
  std::string api_prefix_;

  std::map<std::string, Known> known_;  // by container ID
  // Wall time of the last run that brought every container up to date; the next events
  // query starts there. Empty until such a run, and after the engine failed.
  std::optional<std::chrono::system_clock::time_point> synced_at_;
  std::optional<std::chrono::steady_clock::time_point> last_run_;
  double resync_credit_ = 0;  // inspections owed to the rolling resync
  std::size_t last_overflow_ = 0;
  containers::EngineFailure last_failure_ = containers::EngineFailure::none;
};

}  // namespace assets
