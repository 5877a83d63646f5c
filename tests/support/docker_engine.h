#pragma once
// Debian's Docker Engine (package docker.io) as the engine of a test (container_engine.h):
// a dockerd of its own, with its own data root, exec root, containerd and config, and no
// network (no bridge, no iptables rules).
#include <string>
#include <vector>

#include "tests/support/container_engine.h"

namespace assets::testing {

class DockerEngine final : public ContainerEngine {
 public:
  static constexpr const char* kName = "Docker";

  DockerEngine();
  ~DockerEngine() override;

  std::vector<std::string> health_check(const std::string& command) const override;
  bool run_health_check(const std::string& id) override;

 private:
  std::string missing_component() const override;
  std::vector<std::string> client_command() const override;
  std::vector<std::string> service_command() const override;
  std::vector<std::string> import_arguments(const std::string& tarball) const override;
  std::vector<std::string> force_remove_arguments() const override;
};

}  // namespace assets::testing
