// The real binary under a stand-in for systemd: a NOTIFY_SOCKET the test listens on, a
// WATCHDOG_USEC, a JOURNAL_STREAM naming the agent's stderr. What systemd itself does with
// these is tested in the Debian container (tests/package/).
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace assets {
namespace {

using namespace std::chrono_literals;
using testing::AgentProcess;

// A datagram socket where the agent sends its notifications, as systemd's.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.string().copy(address.sun_path, sizeof address.sun_path - 1);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) ADD_FAILURE() << "bind " << path;
    const timeval receive_timeout{0, 100000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout);
  }
  ~NotifySocket() { close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // Every message received until one contains `needle` or `timeout` passes; the last one
  // holds it when found.
  std::vector<std::string> receive_until(const std::string& needle, std::chrono::milliseconds timeout) {
    std::vector<std::string> messages;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      char buffer[4096];
      const ssize_t size = recv(fd_, buffer, sizeof buffer, 0);
      if (size <= 0) continue;
      messages.emplace_back(buffer, static_cast<std::size_t>(size));
      if (messages.back().find(needle) != std::string::npos) break;
    }
    return messages;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

bool last_has(const std::vector<std::string>& messages, const std::string& needle) {
  return !messages.empty() && messages.back().find(needle) != std::string::npos;
}

TEST(ServiceManager, ReadyOnceListeningReloadingAroundAReloadWatchdogPingsAndStopping) {
  testing::TempDir dir;
  dir.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\n");
  NotifySocket notifications(dir / "notify.sock");
  AgentProcess agent(dir / "agent.log", {"--config.file", (dir / "agent.yml").string()},
                     {"env", "NOTIFY_SOCKET=" + (dir / "notify.sock").string(), "WATCHDOG_USEC=400000"});
  ASSERT_GT(agent.port(), 0) << agent.log();

  auto messages = notifications.receive_until("READY=1", 5s);
  ASSERT_TRUE(last_has(messages, "READY=1")) << agent.log();
  EXPECT_NE(messages.back().find("STATUS=serving /metrics on :" + std::to_string(agent.port()) + " (http)"),
            std::string::npos)
      << messages.back();
  // Ready means listening: the port answers at once.
  EXPECT_EQ(testing::http_request("GET", agent.url("/metrics")).status, 200);

  // Half of WATCHDOG_USEC apart: several pings in a second.
  int pings = 0;
  for (const auto& message : notifications.receive_until("never sent", 1s)) pings += message == "WATCHDOG=1";
  EXPECT_GE(pings, 3);

  kill(agent.process().pid(), SIGHUP);
  messages = notifications.receive_until("RELOADING=1", 5s);
  ASSERT_TRUE(last_has(messages, "RELOADING=1"));
  EXPECT_NE(messages.back().find("MONOTONIC_USEC="), std::string::npos);
  messages = notifications.receive_until("READY=1", 5s);
  ASSERT_TRUE(last_has(messages, "READY=1"));
  EXPECT_NE(messages.back().find("STATUS=configuration reloaded"), std::string::npos) << messages.back();

  ASSERT_NE(agent.process().stop(SIGTERM, 3s), -1);
  messages = notifications.receive_until("STOPPING=1", 2s);
  EXPECT_TRUE(last_has(messages, "STOPPING=1"));
}

TEST(ServiceManager, ARejectedReloadIsReadyAgainWithTheRunningConfiguration) {
  testing::TempDir dir;
  dir.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\n");
  NotifySocket notifications(dir / "notify.sock");
  AgentProcess agent(dir / "agent.log", {"--config.file", (dir / "agent.yml").string()},
                     {"env", "NOTIFY_SOCKET=" + (dir / "notify.sock").string()});
  ASSERT_GT(agent.port(), 0) << agent.log();
  ASSERT_TRUE(last_has(notifications.receive_until("READY=1", 5s), "READY=1"));
  dir.write("agent.yml", "global:\n  bogus: 1\n");
  kill(agent.process().pid(), SIGHUP);
  ASSERT_TRUE(last_has(notifications.receive_until("RELOADING=1", 5s), "RELOADING=1"));
  const auto messages = notifications.receive_until("READY=1", 5s);
  ASSERT_TRUE(last_has(messages, "READY=1"));
  EXPECT_NE(messages.back().find("STATUS=configuration rejected"), std::string::npos) << messages.back();
}

// stat of the log file before the agent starts: Process opens it with O_TRUNC, so the
// agent's stderr is that inode, as the journal's stream is under systemd.
std::string journal_stream_of(const std::filesystem::path& file) {
  std::ofstream(file).flush();
  struct stat file_stat {};
  stat(file.c_str(), &file_stat);
  return std::to_string(file_stat.st_dev) + ":" + std::to_string(file_stat.st_ino);
}

TEST(ServiceManager, LinesCarryTheirPriorityWhenStderrIsTheJournal) {
  testing::TempDir dir;
  dir.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\nbackups:\n  - name: db\n    path: " +
                             (dir / "none").string() + "\n");
  const auto log_file = dir / "agent.log";
  AgentProcess agent(log_file, {"--config.file", (dir / "agent.yml").string()},
                     {"env", "JOURNAL_STREAM=" + journal_stream_of(log_file)});
  ASSERT_GT(agent.port(), 0) << agent.log();
  EXPECT_TRUE(testing::eventually([&] { return agent.log().find("<4>ts=") != std::string::npos; })) << agent.log();
  const std::string log = agent.log();
  EXPECT_EQ(log.rfind("<6>ts=", 0), 0u) << log;
  EXPECT_NE(log.find("<4>ts=") , std::string::npos);
  EXPECT_NE(log.find("level=warn msg=\"target down\""), std::string::npos);
}

TEST(ServiceManager, LinesStayPlainWhenJournalStreamNamesAnotherFile) {
  testing::TempDir dir;
  dir.write("agent.yml", "global:\n  interval: 1s\n  timeout: 500ms\n");
  // A child of the service whose stderr went elsewhere inherits the variable.
  AgentProcess agent(dir / "agent.log", {"--config.file", (dir / "agent.yml").string()},
                     {"env", "JOURNAL_STREAM=" + journal_stream_of(dir / "other.log")});
  ASSERT_GT(agent.port(), 0) << agent.log();
  EXPECT_EQ(agent.log().rfind("ts=", 0), 0u) << agent.log();
}

}  // namespace
}  // namespace assets
