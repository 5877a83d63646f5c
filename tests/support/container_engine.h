#pragma once
// A real Docker-compatible engine for tests, on a temp unix socket (or a loopback TCP
// port), with storage and state dirs of its own so parallel tests never see each other's
// containers, and a busybox image imported from /bin/busybox. Every container made
// through it is removed by ID when it is destroyed. The engines: PodmanEngine
// (podman_engine.h) and DockerEngine (docker_engine.h).
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace assets::testing {

class ContainerEngine {
 public:
  static constexpr const char* kImage = "localhost/busybox:test";

  virtual ~ContainerEngine() = default;
  ContainerEngine(const ContainerEngine&) = delete;
  ContainerEngine& operator=(const ContainerEngine&) = delete;

  // Starts the service on listen_uri (default: unix://DIR/engine.sock) and imports the image.
  // False, with error() set, when a program or busybox is missing or the service does not come up.
  bool start(const std::string& listen_uri = "");
  const std::string& error() const { return error_; }
  const std::string& socket_path() const { return socket_path_; }

  // Stops and starts the API service only; containers keep running.
  void stop_service();
  bool start_service();

  // `run --detach` with the isolation flags, extra options, the test image and a command;
  // returns the container ID, or "" (error() says why).
  std::string run(const std::vector<std::string>& options, const std::vector<std::string>& command);
  // `create`: a container in state "created".
  std::string create(const std::vector<std::string>& options, const std::vector<std::string>& command);
  // Removes one container now (force, no grace period).
  bool remove(const std::string& id);
  // Any subcommand of the engine's own client against this engine; returns the exit status.
  int cli(const std::vector<std::string>& args, std::string* output = nullptr) const;
  // `inspect --format FORMAT ID`, trimmed.
  std::string inspect(const std::string& id, const std::string& format) const;
  // Polls `inspect` until it prints `expected`, or the timeout passes.
  bool wait_for(const std::string& id, const std::string& format, const std::string& expected,
                std::chrono::milliseconds timeout) const;

  // Options that give a container the health check `command` (a shell command), which
  // runs only when run_health_check says so.
  virtual std::vector<std::string> health_check(const std::string& command) const = 0;
  // Runs the health check of a container made with health_check() once, and returns once
  // the engine has recorded its result; false when it could not be run.
  virtual bool run_health_check(const std::string& id) = 0;

 protected:
  // `service_name` names the service in errors. Everything of the engine lives in
  // /tmp/<dir_prefix>XXXXXX: a short path whatever TMPDIR says, as the sockets the engine
  // makes under it must fit in a unix socket address (108 bytes).
  ContainerEngine(std::string service_name, const std::string& dir_prefix);
  // Removes the containers, stops the service and leaves nothing of it behind. Each engine
  // calls it from its destructor: it needs the engine's virtual functions, which this
  // class's destructor could no longer call.
  void shut_down();
  const std::filesystem::path& dir() const { return dir_.path(); }
  const std::string& listen_uri() const { return listen_uri_; }

 private:
  // Why the engine cannot run here, e.g. "podman not found"; "" when it can.
  virtual std::string missing_component() const = 0;
  // The client with the options that point it at this engine.
  virtual std::vector<std::string> client_command() const = 0;
  // The API service, listening on listen_uri().
  virtual std::vector<std::string> service_command() const = 0;
  // Client arguments that import `tarball` as kImage.
  virtual std::vector<std::string> import_arguments(const std::string& tarball) const = 0;
  // Client arguments that remove containers at once, followed by their IDs.
  virtual std::vector<std::string> force_remove_arguments() const = 0;

  std::string make_container(const std::string& verb, const std::vector<std::string>& options,
                             const std::vector<std::string>& command);
  bool answers_ping() const;
  void wait_for_helpers() const;
  void unmount_leftovers();

  std::string service_name_;
  TempDir dir_;
  std::string listen_uri_;
  std::string socket_path_;
  std::string error_;
  Process service_;
  int service_starts_ = 0;
  std::vector<std::string> containers_;
};

}  // namespace assets::testing
