#include "tests/support/docker_engine.h"

#include <unistd.h>

#include <fstream>

namespace assets::testing {
namespace {

using namespace std::chrono_literals;

// Both from docker.io, by path: a docker first in PATH may be another client
// (/usr/local/bin/docker is Docker 28's on some machines).
constexpr const char* kDaemon = "/usr/sbin/dockerd";
constexpr const char* kClient = "/usr/bin/docker";

// Created in a container by run_health_check; its health check waits for it.
constexpr const char* kHealthCheckGate = "/run-health-check";

}  // namespace

DockerEngine::DockerEngine() : ContainerEngine("dockerd", "dk") {
  // A config file of its own: /etc/docker/daemon.json, if any, is the host's. Its one
  // setting keeps Docker 20.10's identity key (key.json) out of /etc/docker too.
  std::ofstream(dir() / "daemon.json") << "{\"deprecated-key-path\": \"" << (dir() / "key.json").string() << "\"}\n";
}

DockerEngine::~DockerEngine() { shut_down(); }

std::string DockerEngine::missing_component() const {
  if (access(kDaemon, X_OK) != 0) return std::string(kDaemon) + " not found (package docker.io)";
  if (access(kClient, X_OK) != 0) return std::string(kClient) + " not found (package docker.io)";
  return "";
}

std::vector<std::string> DockerEngine::client_command() const {
  // --config: not the user's ~/.docker (contexts, credential helpers).
  return {kClient, "--config", (dir() / "client").string(), "--host", listen_uri()};
}

std::vector<std::string> DockerEngine::service_command() const {
  return {kDaemon,
          "--config-file", (dir() / "daemon.json").string(),
          "--data-root", (dir() / "data").string(),
          "--exec-root", (dir() / "exec").string(),
          "--pidfile", (dir() / "dockerd.pid").string(),
          "--host", listen_uri(),
          // The containers run with --network=none: no bridge, and the host's firewall is left alone.
          "--bridge=none", "--iptables=false", "--ip6tables=false",
          // Containers keep running while the daemon is stopped, as they do while Podman's
          // API service is (stop_service).
          "--live-restore"};
}

std::vector<std::string> DockerEngine::import_arguments(const std::string& tarball) const {
  return {"import", tarball, kImage};
}

// `docker rm --force` kills at once; it has no grace period to set to 0.
std::vector<std::string> DockerEngine::force_remove_arguments() const { return {"rm", "--force"}; }

std::vector<std::string> DockerEngine::health_check(const std::string& command) const {
  // Docker 20.10 cannot run a check on demand: its first check starts one interval after
  // the container does. That check waits for the gate file, so the container stays
  // "starting" until run_health_check however slow the machine is, and then records the
  // result of `command`. The timeout is long enough never to end the wait.
  return {"--health-cmd",
          std::string("while [ ! -e ") + kHealthCheckGate + " ]; do sleep 0.1; done; " + command,
          "--health-interval=1s", "--health-timeout=5m"};
}

bool DockerEngine::run_health_check(const std::string& id) {
  if (cli({"exec", id, "sh", "-c", std::string(": > ") + kHealthCheckGate}) != 0) return false;
  return wait_for(id, "{{if .State.Health.Log}}checked{{end}}", "checked", 30s);
}

}  // namespace assets::testing
