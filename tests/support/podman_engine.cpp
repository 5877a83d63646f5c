#include "tests/support/podman_engine.h"

namespace assets::testing {

PodmanEngine::PodmanEngine() : ContainerEngine("podman system service", "pm"), podman_(find_program("podman")) {}

PodmanEngine::~PodmanEngine() { shut_down(); }

std::string PodmanEngine::missing_component() const {
  if (podman_.empty()) return "podman not found";
  if (find_program("runc").empty()) return "runc not found";
  return "";
}

std::vector<std::string> PodmanEngine::client_command() const {
  return {podman_,
          "--root", (dir() / "root").string(),
          "--runroot", (dir() / "runroot").string(),
          "--tmpdir", (dir() / "tmp").string(),
          // No private bind mount of the store on itself, which would outlive the test.
          "--storage-opt", "overlay.skip_mount_home=true",
          "--events-backend=file",
          "--runtime", "runc",
          "--cgroup-manager=cgroupfs"};
}

std::vector<std::string> PodmanEngine::service_command() const {
  std::vector<std::string> argv = client_command();
  argv.insert(argv.end(), {"system", "service", "--time=0", listen_uri()});
  return argv;
}

std::vector<std::string> PodmanEngine::import_arguments(const std::string& tarball) const {
  return {"import", "--quiet", tarball, kImage};
}

std::vector<std::string> PodmanEngine::force_remove_arguments() const { return {"rm", "--force", "--time", "0"}; }

std::vector<std::string> PodmanEngine::health_check(const std::string& command) const {
  // Interval 0: Podman sets up no timer for the check, so it runs only when
  // `podman healthcheck run` says so.
  return {"--health-cmd", command, "--health-interval=0"};
}

bool PodmanEngine::run_health_check(const std::string& id) {
  // It returns once the result is recorded: 0 healthy, 1 unhealthy, anything else an error.
  const int status = cli({"healthcheck", "run", id});
  return status == 0 || status == 1;
}

}  // namespace assets::testing
