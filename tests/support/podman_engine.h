#pragma once
// Podman's API service as the engine of a test (container_engine.h), with its own
// storage, run and event dirs.
#include <string>
#include <vector>

#include "tests/support/container_engine.h"

namespace assets::testing {

class PodmanEngine final : public ContainerEngine {
 public:
  static constexpr const char* kName = "Podman";

  PodmanEngine();
  ~PodmanEngine() override;

  std::vector<std::string> health_check(const std::string& command) const override;
  bool run_health_check(const std::string& id) override;

 private:
  std::string missing_component() const override;
  std::vector<std::string> client_command() const override;
  std::vector<std::string> service_command() const override;
  std::vector<std::string> import_arguments(const std::string& tarball) const override;
  std::vector<std::string> force_remove_arguments() const override;

  std::string podman_;
};

}  // namespace assets::testing
