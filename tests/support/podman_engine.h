#pragma once
// A real Docker-compatible engine for tests: Podman's API service on a temp unix socket
// (or a loopback TCP port), with its own storage, run and event dirs so parallel tests
// never see each other's containers, and a busybox image imported from /bin/busybox.
// Every container made through it is removed by ID when it is destroyed.
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace assets::testing {

class PodmanEngine {
 public:
  static constexpr const char* kImage = "localhost/busybox:test";

  PodmanEngine();
  ~PodmanEngine();
  PodmanEngine(const PodmanEngine&) = delete;
  PodmanEngine& operator=(const PodmanEngine&) = delete;

  // Imports the image and starts the service on listen_uri (default: unix://DIR/engine.sock).
  // False, with error() set, when podman, runc or busybox is missing or the service does not come up.
  bool start(const std::string& listen_uri = "");
  const std::string& error() const { return error_; }
  const std::string& socket_path() const { return socket_path_; }

  // Stops and starts the API service only; containers keep running.
  void stop_service();
  bool start_service();

  // `podman run -d` with the isolation flags, extra options, the test image and a
  // command; returns the container ID, or "" (error() says why).
  std::string run(const std::vector<std::string>& options, const std::vector<std::string>& command);
  // `podman create`: a container in state "created".
  std::string create(const std::vector<std::string>& options, const std::vector<std::string>& command);
  // Removes one container now (force, no grace period).
  bool remove(const std::string& id);
  // Any podman subcommand against this engine's store; returns the exit status.
  int podman(const std::vector<std::string>& args, std::string* output = nullptr) const;
  // `podman inspect --format FORMAT ID`, trimmed.
  std::string inspect(const std::string& id, const std::string& format) const;
  // Polls `inspect` until it prints `expected`, or the timeout passes.
  bool wait_for(const std::string& id, const std::string& format, const std::string& expected,
                std::chrono::milliseconds timeout) const;

 private:
  std::vector<std::string> base_command() const;
  std::string make_container(const std::string& verb, const std::vector<std::string>& options,
                             const std::vector<std::string>& command);
  void wait_for_helpers() const;
  void unmount_store();

  TempDir dir_;
  std::string podman_;
  std::string listen_uri_;
  std::string socket_path_;
  std::string error_;
  Process service_;
  int service_starts_ = 0;
  std::vector<std::string> containers_;
};

}  // namespace assets::testing
