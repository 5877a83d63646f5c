#pragma once
// The containers collector: the state of every container of a Docker-compatible engine
// (Docker, or Podman's API service), read over the Docker Engine API with GET requests only.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <re2/re2.h>

#include "agent/collector.h"
#include "collectors/containers_api.h"
#include "collectors/containers_engine.h"

namespace assets {

std::optional<CollectorSpec> make_containers_collector(const Config& config);

// Keeps the last inspection of every container between runs and inspects again only
// containers whose list entry changed, that had an event since the last run, or whose
// turn in the rolling resync has come (see docs/metrics.md, "Change detection").
class ContainersCollector final : public Collector {
 public:
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

  bool included(const containers::ListedContainer& container) const;
  std::string list_target() const;
  std::string events_target(const containers::EngineVersion& version, std::chrono::system_clock::time_point now) const;
  // Containers with a state-changing event since the last run; nullopt when the events
  // cannot be read completely, so that every container must be inspected.
  std::optional<std::set<std::string>> changed_by_events(const CollectContext& context,
                                                         const containers::EngineVersion& version);
  std::vector<std::string> choose_inspections(const std::vector<containers::ListedContainer>& listed,
                                              const std::optional<std::set<std::string>>& event_changes,
                                              std::chrono::steady_clock::time_point now);
  void inspect(const CollectContext& context, const std::vector<std::string>& ids,
               const std::map<std::string, const containers::ListedContainer*>& by_id);
  void forget_history();

  ContainersConfig config_;
  std::unique_ptr<containers::EngineTransport> transport_;
  std::vector<std::unique_ptr<RE2>> include_;
  std::vector<std::unique_ptr<RE2>> exclude_;
  std::string api_prefix_;

  std::map<std::string, Known> known_;  // by container ID
  // Wall time of the last run that brought every container up to date; the next events
  // query starts there. Empty until such a run, and after the engine failed.
  std::optional<std::chrono::system_clock::time_point> synced_at_;
  std::optional<std::chrono::steady_clock::time_point> last_run_;
  double resync_credit_ = 0;  // inspections owed to the rolling resync
  std::size_t last_overflow_ = 0;
};

}  // namespace assets
