#pragma once
// Real servers for the health collector's tests: nginx in a temp prefix, small loopback
// TCP servers written here (silent, echo, Redis-like PONG, greet-and-close), a test PKI
// made with the OpenSSL API, and helpers to run the collector once and read its metrics.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <openssl/types.h>

#include "agent/collector.h"
#include "tests/support/test_support.h"

namespace assets::testing {

// nginx -p DIR -c DIR/nginx.conf -g 'daemon off;' with `http_block` inside http { }.
class Nginx {
 public:
  static bool available();
  Nginx(const std::filesystem::path& dir, const std::string& http_block, const std::vector<int>& ports);
  bool started() const { return started_; }
  std::string log() const;

 private:
  std::filesystem::path dir_;
  Process process_;
  bool started_ = false;
};

// A loopback TCP server on a free port, one thread per connection.
class LoopbackServer {
 public:
  enum class Mode {
    silent,    // accepts and never answers
    echo,      // sends back what it receives
    pong,      // answers "+PONG\r\n" to every "PING"
    greeting,  // sends "220 ready\r\n" and closes
    flood,     // sends without pause until the client closes or the server stops
    endless_header,  // answers a request with one HTTP header line that never ends
    huge_headers,    // answers a request with 300 KB of HTTP header lines
  };
  explicit LoopbackServer(Mode mode);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }

 private:
  void accept_loop();
  void serve(int client);

  Mode mode_;
  int listener_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::vector<std::thread> handlers_;
  std::thread acceptor_;
};

// A CA and certificates signed by it (or self-signed), written as PEM files into a dir.
class TestPki {
 public:
  explicit TestPki(const std::filesystem::path& dir);
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  struct Spec {
    std::string common_name{};
    std::vector<std::string> dns_names{};
    std::vector<std::string> ip_addresses{};
    long not_before_offset_seconds = -3600;  // relative to now
    long not_after_offset_seconds = 86400;
    bool client = false;       // extendedKeyUsage clientAuth instead of serverAuth
    bool self_signed = false;  // not signed by the CA
  };
  // Writes <name>.crt and <name>.key.
  void issue(const std::string& name, const Spec& spec);
  std::filesystem::path ca_file() const { return dir_ / "ca.crt"; }
  std::filesystem::path cert(const std::string& name) const { return dir_ / (name + ".crt"); }
  std::filesystem::path key(const std::string& name) const { return dir_ / (name + ".key"); }

 private:
  std::filesystem::path dir_;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_cert_ = nullptr;
  long serial_ = 1;
};

// Runs the health collector of `config_yaml` (a whole config) once; fails the test on a
// config error. `collector` keeps the collector for later runs when given.
struct HealthRun {
  CollectResult result;
  double seconds = 0;
};
std::unique_ptr<Collector> make_health(const std::string& config_yaml, Duration* timeout = nullptr);
HealthRun run_health(Collector& collector, Duration timeout);
HealthRun run_health_once(const std::string& config_yaml);

const TargetStatus* find_target(const CollectResult& result, const std::string& name);
// The sample of `family` with all of `labels` (a subset match), if any.
std::optional<double> metric(const CollectResult& result, const std::string& family,
                             const std::map<std::string, std::string>& labels);
// The collector's families in the text exposition format.
std::string exposition(const CollectResult& result);

// Resident memory of this process, from /proc/self/statm.
std::uint64_t resident_bytes();

}  // namespace assets::testing
