#pragma once
// A real PostgreSQL server for tests: initdb in a temp dir, started with pg_ctl on a free
// loopback port with its unix socket in that dir. initdb refuses to run as root, so when
// the tests run as root every server command runs as the `postgres` user via runuser.
//
//   ASSETS_REQUIRE_COMPONENT(PostgresServer::available(), "PostgreSQL server");
//   PostgresServer server;
//   ASSERT_TRUE(server.start()) << server.log();
//   server.sql("CREATE DATABASE app");
//
// Authentication: the unix socket trusts everyone (so sql() needs no password); TCP on
// 127.0.0.1 uses Options::host_auth (scram-sha-256 by default), and the superuser
// `postgres` has the password superuser_password().
#include <filesystem>
#include <string>
#include <vector>

namespace assets::testing {

class PostgresServer {
 public:
  struct Options {
    // pg_hba method for TCP connections: "scram-sha-256", "md5", "password" or "trust".
    std::string host_auth = "scram-sha-256";
  };

  // True when initdb/pg_ctl/postgres/psql exist (and, as root, runuser and the postgres user).
  static bool available();

  PostgresServer();
  explicit PostgresServer(Options options);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Runs initdb on the first call, then starts the server and waits until it accepts
  // connections. Later calls restart it on the same port and data dir. False on failure;
  // log() then tells why.
  bool start();
  // Fast shutdown (open sessions are ended); waits until the server is gone.
  bool stop();
  bool running() const { return running_; }

  std::string host() const { return "127.0.0.1"; }
  int port() const { return port_; }
  const std::filesystem::path& socket_dir() const { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  const std::filesystem::path& bin_dir() const { return bin_dir_; }
  // The directory the server owns; tests may put files there (it is removed at the end).
  const std::filesystem::path& dir() const { return dir_; }
  std::string superuser() const { return "postgres"; }
  std::string superuser_password() const { return superuser_password_; }
  // "host=127.0.0.1 port=N user=U dbname=D" (no password) for libpq.
  std::string tcp_dsn(const std::string& user, const std::string& dbname) const;

  // Runs SQL as the superuser over the unix socket (psql -X -v ON_ERROR_STOP=1 -At).
  // Returns psql's exit status (0 = success); `output` gets stdout, and stderr on failure.
  int sql(const std::string& statements, std::string* output = nullptr,
          const std::string& dbname = "postgres") const;
  // Runs a tool from bin_dir() (pg_dump, pg_restore, ...) as the server's user, with
  // PGHOST/PGPORT/PGUSER pointing at this server. Returns the exit status.
  int run_tool(const std::string& tool, const std::vector<std::string>& arguments,
               std::string* output = nullptr) const;

  // The server's log plus the output of the last failed command.
  std::string log() const;

 private:
  bool initialize();
  // Runs as the server's user from dir(); `output` gets stdout, and stderr on failure.
  int run_as_server_user(std::vector<std::string> argv, std::string* output = nullptr) const;

  Options options_;
  std::filesystem::path bin_dir_;
  std::filesystem::path dir_;
  int port_ = 0;
  bool initialized_ = false;
  bool running_ = false;
  std::string superuser_password_;
  std::string last_failure_;
};

}  // namespace assets::testing
