// The real binary under the connections and targets that broke it: idle keep-alive and
// slowloris clients must not keep a fresh scrape waiting, a flood of idle connections must
// not leave it stalled, and a collector stuck on a Docker socket that never answers must
// hold neither a reload nor SIGTERM.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;
using testing::AgentProcess;
using Clock = std::chrono::steady_clock;

// A loopback client socket; connect() is non-blocking, so a full accept queue never makes
// the test wait.
int open_client(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  return fd;
}

bool send_when_writable(int fd, std::string_view data) {
  pollfd waiting{fd, POLLOUT, 0};
  if (poll(&waiting, 1, 2000) != 1) return false;
  return send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

void close_all(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

// The time a fresh client (a new connection) takes to get /metrics.
Clock::duration fresh_scrape(const AgentProcess& agent, long* status = nullptr, long timeout_ms = 2000) {
  const auto started = Clock::now();
  const auto response = testing::http_request("GET", agent.url("/metrics"), {}, timeout_ms);
  if (status != nullptr) *status = response.status;
  return Clock::now() - started;
}

std::string no_collectors_config(testing::TempDir& dir) {
  dir.write("agent.yml", "global:\n  interval: 30s\n  timeout: 10s\n");
  return (dir / "agent.yml").string();
}

// Defect 3: civetweb ran 4 workers, each held by one connection until it closed, with idle
// keep-alive connections kept 30 s: four idle clients stalled /metrics for 30 s.
TEST(AgentLimits, FreshScrapeIsServedWhileIdleAndSlowlorisConnectionsAreHeld) {
  testing::TempDir dir;
  AgentProcess agent(dir / "agent.log", {"--config.file", no_collectors_config(dir)});
  ASSERT_GT(agent.port(), 0) << agent.log();

  std::vector<int> held;
  for (int i = 0; i < 64; ++i) {
    const int fd = open_client(agent.port());
    ASSERT_TRUE(send_when_writable(fd, "GET /healthz HTTP/1.1\r\nHost: agent\r\nConnection: keep-alive\r\n\r\n"));
    held.push_back(fd);
  }
  std::vector<int> slow;
  for (int i = 0; i < 32; ++i) {
    const int fd = open_client(agent.port());
    ASSERT_TRUE(send_when_writable(fd, "GET /metrics HTTP/1.1\r\n"));
    slow.push_back(fd);
  }
  std::atomic<bool> dripping{true};
  std::thread dripper([&] {
    while (dripping) {
      for (int fd : slow) send(fd, "X", 1, MSG_NOSIGNAL);  // a header that never ends, a byte at a time
      std::this_thread::sleep_for(200ms);
    }
  });
  std::this_thread::sleep_for(300ms);  // every one of them has reached the agent

  for (int i = 0; i < 20; ++i) {
    long status = 0;
    const auto took = fresh_scrape(agent, &status);
    EXPECT_EQ(status, 200) << "scrape " << i;
    EXPECT_LT(took, 50ms) << "scrape " << i;
  }
  dripping = false;
  dripper.join();
  close_all(held);
  close_all(slow);
}

TEST(AgentLimits, RecoversFromAThousandIdleConnectionsWithoutARestart) {
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < 1200 && files.rlim_max >= 1200) {
    files.rlim_cur = 1200;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  ASSERT_GE(files.rlim_cur, 1200U) << "needs 1200 open files";
  testing::TempDir dir;
  AgentProcess agent(dir / "agent.log", {"--config.file", no_collectors_config(dir)});
  ASSERT_GT(agent.port(), 0) << agent.log();

  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) idle.push_back(open_client(agent.port()));
  std::this_thread::sleep_for(1s);
  close_all(idle);

  // The workers see the clients go; what is left in the queues drains at once.
  long status = 0;
  EXPECT_LT(fresh_scrape(agent, &status, 10000), 5s);
  EXPECT_EQ(status, 200);
  std::this_thread::sleep_for(500ms);
  EXPECT_LT(fresh_scrape(agent, &status), 50ms);
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(agent.process().running());
}

// A unix socket that accepts every connection and never answers: a Docker engine hung.
class SilentSocket {
 public:
  explicit SilentSocket(const std::string& path) {
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    bind(listener_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    listen(listener_, 64);
    pipe2(stop_, O_CLOEXEC);
    acceptor_ = std::thread([this] {
      for (;;) {
        pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents != 0) return;
        const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) clients_.push_back(client);
        ++accepted_;
      }
    });
  }
  ~SilentSocket() {
    write(stop_[1], "x", 1);
    acceptor_.join();
    for (int fd : clients_) close(fd);
    close(listener_);
    close(stop_[0]);
    close(stop_[1]);
  }
  int accepted() const { return accepted_; }

 private:
  int listener_ = -1;
  int stop_[2] = {-1, -1};
  std::vector<int> clients_;
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
};

// Defect 4: with the engine hung and containers.timeout 60s, a reload took 58 s, SIGTERM
// during it 52 s, and four parallel reloads blocked /metrics.
TEST(AgentLimits, AHungDockerSocketHoldsNeitherReloadNorSigterm) {
  testing::TempDir dir;
  const std::string socket_path = (dir / "docker.sock").string();
  SilentSocket engine(socket_path);
  const auto config = [&](int max_containers) {
    dir.write("agent.yml", "global:\n  interval: 30s\n  timeout: 10s\ncontainers:\n  socket: " + socket_path +
                               "\n  interval: 5m\n  timeout: 60s\n  max_containers: " + std::to_string(max_containers) +
                               "\n");
  };
  config(100);
  AgentProcess agent(dir / "agent.log", {"--config.file", (dir / "agent.yml").string(), "--web.enable-lifecycle"});
  ASSERT_GT(agent.port(), 0) << agent.log();
  ASSERT_TRUE(testing::eventually([&] { return engine.accepted() >= 1; }, 10s)) << agent.log();

  config(200);  // a changed section: the stuck collector is replaced
  const auto started = Clock::now();
  std::vector<std::thread> reloads;
  std::atomic<int> reloaded{0};
  for (int i = 0; i < 4; ++i) {
    reloads.emplace_back([&] {
      if (testing::http_request("POST", agent.url("/-/reload"), {}, 10000).status == 200) ++reloaded;
    });
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_LT(fresh_scrape(agent), 50ms) << "a scrape waited for the reloads";
  for (auto& reload : reloads) reload.join();
  EXPECT_LT(Clock::now() - started, 2s);
  EXPECT_EQ(reloaded, 4) << agent.log();
  ASSERT_TRUE(testing::eventually([&] { return engine.accepted() >= 2; }, 10s)) << agent.log();

  // SIGTERM right after a SIGHUP that replaces the (again) stuck collector.
  config(300);
  kill(agent.process().pid(), SIGHUP);
  std::this_thread::sleep_for(50ms);
  const auto stopping = Clock::now();
  const int status = agent.process().stop(SIGTERM, 2s);
  EXPECT_LT(Clock::now() - stopping, 2s);
  ASSERT_NE(status, -1) << "did not exit within 2 s of SIGTERM\n" << agent.log();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace assets
