#include "tests/support/postgres_server.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "tests/support/test_support.h"

namespace assets::testing {
namespace {

constexpr const char* kServerUser = "postgres";

bool running_as_root() { return geteuid() == 0; }

// Debian installs each major version under /usr/lib/postgresql/<major>/bin; prefer 15.
std::filesystem::path find_bin_dir() {
  const std::filesystem::path root = "/usr/lib/postgresql";
  if (std::filesystem::exists(root / "15" / "bin" / "initdb")) return root / "15" / "bin";
  std::error_code error;
  std::vector<std::filesystem::path> candidates;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    if (std::filesystem::exists(entry.path() / "bin" / "initdb")) candidates.push_back(entry.path() / "bin");
  }
  if (candidates.empty()) return {};
  std::sort(candidates.begin(), candidates.end());
  return candidates.back();
}

std::string random_hex(std::size_t length) {
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string text;
  for (std::size_t i = 0; i < length; ++i) text += "0123456789abcdef"[digit(device)];
  return text;
}

void give_to_server_user(const std::filesystem::path& path) {
  if (!running_as_root()) return;
  const passwd* user = getpwnam(kServerUser);
  if (user == nullptr || chown(path.c_str(), user->pw_uid, user->pw_gid) != 0) {
    throw std::runtime_error("cannot give " + path.string() + " to the postgres user");
  }
}

}  // namespace

bool PostgresServer::available() {
  const auto bin = find_bin_dir();
  if (bin.empty()) return false;
  for (const char* tool : {"initdb", "pg_ctl", "postgres", "psql"}) {
    if (access((bin / tool).c_str(), X_OK) != 0) return false;
  }
  if (!running_as_root()) return true;
  return !find_program("runuser").empty() && getpwnam(kServerUser) != nullptr;
}

PostgresServer::PostgresServer() : PostgresServer(Options{}) {}

PostgresServer::PostgresServer(Options options)
    : options_(std::move(options)), bin_dir_(find_bin_dir()), superuser_password_(random_hex(24)) {
  std::string pattern = (std::filesystem::temp_directory_path() / "assets-pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  // The server user must reach its socket and data dir; other local users the socket.
  chmod(dir_.c_str(), 0755);
  give_to_server_user(dir_);
}

PostgresServer::~PostgresServer() {
  if (running_) {
    run_as_server_user({(bin_dir_ / "pg_ctl").string(), "-D", data_dir().string(), "-w", "-t", "30",
                                "stop", "-m", "immediate"});
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

int PostgresServer::run_as_server_user(std::vector<std::string> argv, std::string* output) const {
  if (running_as_root()) argv.insert(argv.begin(), {"runuser", "-u", kServerUser, "--"});
  // The server's user may not enter the test's working directory (a clone in /root or in a
  // mode-700 temp dir): run from its own. Its stderr stays out of what callers parse.
  std::string errors;
  const int status = run_command(argv, output, {.directory = dir_, .error_output = &errors});
  if (status != 0 && output != nullptr) *output += errors;
  return status;
}

bool PostgresServer::initialize() {
  const auto password_file = dir_ / "superuser-password";
  std::ofstream(password_file) << superuser_password_ << '\n';
  give_to_server_user(password_file);
  std::string output;
  const int status = run_as_server_user({(bin_dir_ / "initdb").string(), "-D", data_dir().string(), "-U", kServerUser,
                      "--pwfile=" + password_file.string(), "--auth-local=trust",
                      "--auth-host=" + options_.host_auth, "-E", "UTF8", "--locale=C", "--no-sync"},
      &output);
  std::filesystem::remove(password_file);
  if (status != 0) {
    last_failure_ = "initdb failed:\n" + output;
    return false;
  }
  initialized_ = true;
  return true;
}

bool PostgresServer::start() {
  if (running_) return true;
  if (!initialized_ && !initialize()) return false;
  const bool first_start = port_ == 0;
  // Another test may grab the free port between probing and binding: retry the first start.
  for (int attempt = 0; attempt < (first_start ? 3 : 1); ++attempt) {
    if (first_start) port_ = free_tcp_port();
    std::string output;
    const std::string server_options = "-p " + std::to_string(port_) + " -k " + dir_.string() +
                                       " -c listen_addresses=127.0.0.1 -c fsync=off";
    const int status = run_as_server_user({(bin_dir_ / "pg_ctl").string(), "-D", data_dir().string(),
                                                   "-l", (dir_ / "server.log").string(), "-w", "-t", "60",
                                                   "-o", server_options, "start"},
                                   &output);
    if (status == 0) {
      running_ = true;
      return true;
    }
    last_failure_ = "pg_ctl start failed:\n" + output;
  }
  if (first_start) port_ = 0;
  return false;
}

bool PostgresServer::stop() {
  if (!running_) return true;
  std::string output;
  const int status = run_as_server_user({(bin_dir_ / "pg_ctl").string(), "-D", data_dir().string(), "-w",
                                                 "-t", "60", "stop", "-m", "fast"},
                                 &output);
  if (status != 0) {
    last_failure_ = "pg_ctl stop failed:\n" + output;
    return false;
  }
  running_ = false;
  return true;
}

std::string PostgresServer::tcp_dsn(const std::string& user, const std::string& dbname) const {
  return "host=" + host() + " port=" + std::to_string(port_) + " user=" + user + " dbname=" + dbname;
}

int PostgresServer::sql(const std::string& statements, std::string* output, const std::string& dbname) const {
  // A script file, not -c: psql then sends statements one by one, so CREATE DATABASE and
  // friends do not land in one implicit transaction.
  static std::atomic<int> counter{0};
  const auto script = dir_ / ("script-" + std::to_string(counter++) + ".sql");
  std::ofstream(script) << statements << '\n';
  chmod(script.c_str(), 0644);
  const int status = run_as_server_user({(bin_dir_ / "psql").string(), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                                 "-At", "-h", dir_.string(), "-p", std::to_string(port_), "-U",
                                                 kServerUser, "-d", dbname, "-f", script.string()},
                                 output);
  std::error_code ignored;
  std::filesystem::remove(script, ignored);
  return status;
}

int PostgresServer::run_tool(const std::string& tool, const std::vector<std::string>& arguments,
                             std::string* output) const {
  std::vector<std::string> argv = {"env", "PGHOST=" + dir_.string(), "PGPORT=" + std::to_string(port_),
                                   std::string("PGUSER=") + kServerUser, (bin_dir_ / tool).string()};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return run_as_server_user(std::move(argv), output);
}

std::string PostgresServer::log() const {
  std::string text = read_file(dir_ / "server.log");
  if (!last_failure_.empty()) text += "\n" + last_failure_;
  return text;
}

}  // namespace assets::testing
