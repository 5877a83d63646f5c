#pragma once
// Helpers shared by the tests: temp dirs, free loopback ports, child processes, and the
// rule that a real component which cannot start fails the run under CI=true.
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace assets::testing {

// True when CI=true: missing components are failures, not skips.
bool in_ci();

// Skips the test, or fails it under CI=true, when `what` is unavailable.
#define ASSETS_REQUIRE_COMPONENT(available, what)                                  \
  do {                                                                             \
    if (!(available)) {                                                            \
      if (::assets::testing::in_ci()) FAIL() << "required component missing: " << (what); \
      GTEST_SKIP() << "component missing (set CI=true to fail instead): " << (what);        \
    }                                                                              \
  } while (0)

class TempDir {
 public:
  // Under the system's temp dir.
  TempDir();
  // Where `pattern`, a path ending in XXXXXX, says (mkdtemp): for a path known to be short.
  explicit TempDir(const std::filesystem::path& pattern);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  void write(const std::string& name, const std::string& contents) const;

 private:
  std::filesystem::path path_;
};

// Binds 127.0.0.1:0, reads the port back and closes the socket.
int free_tcp_port();
// Polls until something accepts on 127.0.0.1:port, or the timeout passes.
bool wait_for_tcp(int port, std::chrono::milliseconds timeout);
// An absolute path to an executable in PATH or at the given path; empty when absent.
std::string find_program(const std::string& name);

// A child process in its own process group; killed (SIGTERM, then SIGKILL) on destruction.
class Process {
 public:
  Process() = default;
  explicit Process(const std::vector<std::string>& argv, const std::string& log_file = "");
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  int pid() const { return pid_; }
  bool running();
  // Sends a signal; returns the exit status after waiting at most `timeout`, or -1.
  int stop(int signal, std::chrono::milliseconds timeout);

 private:
  int pid_ = -1;
  int status_ = -1;
};

struct HttpResponse {
  long status = 0;  // 0 when no response arrived
  std::string body;
  std::string content_type;
  std::string content_encoding;
  std::string error;
};
// A plain libcurl request; the body is returned as received (no decompression).
HttpResponse http_request(const std::string& method, const std::string& url,
                          const std::vector<std::string>& headers = {}, long timeout_ms = 5000,
                          const std::string& body = {});
// Decompresses a gzip body.
std::string gunzip(const std::string& data);

struct CommandOptions {
  // Where the command runs; empty: the test's own directory. A command run as another user
  // needs a directory that user can enter, or it prints "could not change directory".
  std::filesystem::path directory;
  // Where stderr goes; null: into `output` with stdout, for messages in assertions.
  // Set it whenever `output` is parsed, so no warning lands in the parsed text.
  std::string* error_output = nullptr;
};

// Runs a command to completion (no shell), returns its exit status, or -1 when it could not
// be started or was killed by a signal; stdout goes to `output`.
int run_command(const std::vector<std::string>& argv, std::string* output = nullptr, const CommandOptions& options = {});

std::string read_file(const std::filesystem::path& path);

// Polls `predicate` every 10 ms until it holds or `limit` passes; returns its last value.
template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return predicate();
}

// The built agent started as an operator would, on 127.0.0.1:0; the port is read back from
// its "listening" log line. port() is 0 when it did not start within 10 s.
class AgentProcess {
 public:
  // `launcher`: a command the agent is started through (it ends by exec'ing its arguments).
  AgentProcess(const std::filesystem::path& log_file, const std::vector<std::string>& extra_args,
               const std::vector<std::string>& launcher = {});
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  Process& process() { return process_; }
  std::string log() const { return read_file(log_file_); }

 private:
  std::filesystem::path log_file_;
  Process process_;
  int port_ = 0;
};

// Path of the built assets-agent binary (set by CMake).
std::string agent_binary();
// Source tree root (set by CMake).
std::filesystem::path source_dir();

}  // namespace assets::testing
