// The libcurl transport on the wire: a small HTTP server on a temp unix socket records
// every request and answers with recorded Docker responses, errors, garbage or nothing.
#include "collectors/containers/engine.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "collectors/containers/containers.h"
#include "tests/support/test_support.h"

namespace assets::containers {
namespace {

using namespace std::chrono_literals;

std::string fixture(const std::string& name) {
  std::ifstream in(testing::source_dir() / "tests" / "testdata" / name, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string http_response(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

int listening_unix_socket(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Answers each request with what `respond` returns for its request line; an empty
// answer means: keep the connection open and say nothing (a hanging engine).
class FakeEngineServer {
 public:
  using Responder = std::function<std::string(const std::string& request_line)>;

  FakeEngineServer(std::string path, Responder respond) : path_(std::move(path)), respond_(std::move(respond)) {
    listen_fd_ = listening_unix_socket(path_);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeEngineServer() {
    stopping_ = true;
    thread_.join();
    close(listen_fd_);
  }
  bool listening() const { return listen_fd_ >= 0; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    std::vector<std::thread> connections;
    while (!stopping_) {
      pollfd pending{listen_fd_, POLLIN, 0};
      if (poll(&pending, 1, 20) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      connections.emplace_back([this, fd] { handle(fd); });
    }
    for (auto& connection : connections) connection.join();
  }

  void handle(int fd) {
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos && !stopping_) {
      pollfd readable{fd, POLLIN, 0};
      if (poll(&readable, 1, 20) <= 0) continue;
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      head.append(buffer, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(head);
    }
    const std::string answer = respond_(head.substr(0, head.find("\r\n")));
    if (answer.empty()) {
      while (!stopping_) std::this_thread::sleep_for(10ms);
    } else {
      std::size_t sent = 0;
      while (sent < answer.size()) {
        // A client that stops reading (the size limit tests) closes while this writes:
        // MSG_NOSIGNAL, or the SIGPIPE ends the whole test process.
        const ssize_t n = send(fd, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
    }
    close(fd);
  }

  std::string path_;
  Responder respond_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
};

// Docker's answers for the recorded fixtures, by request target.
std::string docker_engine(const std::string& request_line) {
  const std::size_t start = request_line.find(' ') + 1;
  const std::string target = request_line.substr(start, request_line.rfind(' ') - start);
  if (target == "/version") return http_response(200, fixture("docker/version.json"));
  if (target.starts_with("/v1.43/containers/json")) return http_response(200, fixture("docker/containers_list.json"));
  if (target.starts_with("/v1.43/events")) return http_response(200, fixture("docker/events.jsonl"));
  if (target.starts_with("/v1.43/containers/" + std::string(64, 'a'))) {
    return http_response(200, fixture("docker/inspect_healthy.json"));
  }
  if (target.starts_with("/v1.43/containers/")) return http_response(200, fixture("docker/inspect_exited.json"));
  return http_response(404, R"({"message":"page not found"})");
}

ContainersConfig socket_config(const std::string& path) {
  ContainersConfig config;
  config.socket = path;
  return config;
}

CollectContext context_with(std::chrono::milliseconds budget) {
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + budget;
  return context;
}

TEST(ContainersEngine, SendsOnlyGetRequestsWithoutBodies) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, docker_engine);
  ASSERT_TRUE(server.listening());
  ContainersCollector collector(socket_config(path), make_curl_transport(socket_config(path)));
  collector.run(context_with(10s));
  collector.run(context_with(10s));  // the second run also queries events

  const auto requests = server.requests();
  ASSERT_GE(requests.size(), 12u);  // version, list, 9 inspections, version, list, events, ...
  bool saw_events = false;
  for (const auto& request : requests) {
    EXPECT_EQ(request.rfind("GET /", 0), 0u) << request;
    EXPECT_EQ(request.find("Content-Length"), std::string::npos) << request;
    EXPECT_EQ(request.find("Transfer-Encoding"), std::string::npos) << request;
    saw_events = saw_events || request.starts_with("GET /v1.43/events?");
  }
  EXPECT_TRUE(saw_events);
}

TEST(ContainersEngine, ReadsAResponse) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, docker_engine);
  const auto reply = make_curl_transport(socket_config(path))->get("/version", 5s, 1 << 20, {});
  EXPECT_EQ(reply.failure, EngineFailure::none) << reply.detail;
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(parse_version(reply.body).value);
}

TEST(ContainersEngine, MissingSocketIsNotFound) {
  testing::TempDir dir;
  const auto transport = make_curl_transport(socket_config((dir / "absent.sock").string()));
  const auto reply = transport->get("/version", 5s, 1 << 20, {});
  EXPECT_EQ(reply.failure, EngineFailure::not_found);
  EXPECT_NE(reply.detail.find("absent.sock"), std::string::npos) << reply.detail;
  EXPECT_EQ(transport->endpoint(), "unix://" + (dir / "absent.sock").string());
}

TEST(ContainersEngine, ASocketNobodyServesIsNotFound) {
  testing::TempDir dir;
  const std::string path = (dir / "stale.sock").string();
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);  // bound, never listening
  const auto reply = make_curl_transport(socket_config(path))->get("/version", 5s, 1 << 20, {});
  close(fd);
  EXPECT_EQ(reply.failure, EngineFailure::not_found) << reply.detail;
}

TEST(ContainersEngine, ASocketWithoutAccessIsPermissionDenied) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  const int fd = listening_unix_socket(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  const auto config = socket_config(path);
  int reason = -1;
  if (geteuid() == 0) {
    // root passes every permission check: ask as an unprivileged user, like an agent
    // that is not in the docker group.
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
      _exit(static_cast<int>(make_curl_transport(config)->get("/version", 5s, 1 << 20, {}).failure));
    }
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 100) << "could not drop privileges";
    reason = WEXITSTATUS(status);
  } else {
    ASSERT_EQ(chmod(path.c_str(), 0), 0);
    reason = static_cast<int>(make_curl_transport(config)->get("/version", 5s, 1 << 20, {}).failure);
  }
  close(fd);
  EXPECT_EQ(reason, static_cast<int>(EngineFailure::permission_denied));
}

TEST(ContainersEngine, AHangingEngineTimesOutWithinTheTimeout) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, [](const std::string&) { return std::string(); });
  const auto started = std::chrono::steady_clock::now();
  const auto reply = make_curl_transport(socket_config(path))->get("/version", 300ms, 1 << 20, {});
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(reply.failure, EngineFailure::timeout) << reply.detail;
  EXPECT_LT(took, 3s);
}

// Defect 4: curl_easy_perform looked only at its own timeout, so a socket that accepts and
// never answers held a reload or a shutdown for the whole containers timeout (60 s).
TEST(ContainersEngine, AStopRequestEndsARequestToAHangingEngineAtOnce) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, [](const std::string&) { return std::string(); });
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  const auto reply = make_curl_transport(socket_config(path))->get("/version", 60s, 1 << 20, stop.get_token());
  const auto took = std::chrono::steady_clock::now() - started;
  stopper.join();
  EXPECT_EQ(reply.failure, EngineFailure::timeout) << reply.detail;
  EXPECT_LT(took, 1s);
}

TEST(ContainersEngine, ACollectorRunAgainstAHangingEngineEndsAtItsDeadline) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, [](const std::string&) { return std::string(); });
  ContainersCollector collector(socket_config(path), make_curl_transport(socket_config(path)));
  const auto started = std::chrono::steady_clock::now();
  const CollectResult result = collector.run(context_with(500ms));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  ASSERT_FALSE(result.targets.empty());
  EXPECT_EQ(result.targets.front().reason, "timeout");
}

TEST(ContainersEngine, StatusCodesArePassedOn) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, [](const std::string&) { return http_response(500, R"({"message":"boom"})"); });
  const auto reply = make_curl_transport(socket_config(path))->get("/version", 5s, 1 << 20, {});
  EXPECT_EQ(reply.failure, EngineFailure::none);
  EXPECT_EQ(reply.status, 500);
}

TEST(ContainersEngine, GarbageInsteadOfHttpIsAProtocolFailure) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, [](const std::string&) { return std::string("\x01\x02garbage\r\n\r\n"); });
  const auto reply = make_curl_transport(socket_config(path))->get("/version", 5s, 1 << 20, {});
  EXPECT_EQ(reply.failure, EngineFailure::protocol) << reply.detail;
}

TEST(ContainersEngine, AnOversizedBodyIsAProtocolFailure) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, [](const std::string&) { return http_response(200, std::string(100000, 'x')); });
  const auto reply = make_curl_transport(socket_config(path))->get("/version", 5s, 1000, {});
  EXPECT_EQ(reply.failure, EngineFailure::protocol);
  EXPECT_NE(reply.detail.find("larger than 1000 bytes"), std::string::npos) << reply.detail;
}

TEST(ContainersEngine, ATruncatedBodyIsAProtocolFailure) {
  testing::TempDir dir;
  const std::string path = (dir / "docker.sock").string();
  FakeEngineServer server(path, [](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{\"Version\":");
  });
  const auto reply = make_curl_transport(socket_config(path))->get("/version", 5s, 1 << 20, {});
  EXPECT_EQ(reply.failure, EngineFailure::protocol) << reply.detail;
}

TEST(ContainersEngine, TcpHostEndpoint) {
  ContainersConfig config;
  config.host = "tcp://127.0.0.1:1";
  EXPECT_EQ(make_curl_transport(config)->endpoint(), "tcp://127.0.0.1:1");
}

TEST(ContainersEngine, FailureReasonNames) {
  EXPECT_EQ(to_string(EngineFailure::not_found), "not_found");
  EXPECT_EQ(to_string(EngineFailure::permission_denied), "permission_denied");
  EXPECT_EQ(to_string(EngineFailure::timeout), "timeout");
  EXPECT_EQ(to_string(EngineFailure::protocol), "protocol");
  EXPECT_EQ(to_string(EngineFailure::api_error), "api_error");
}

}  // namespace
}  // namespace assets::containers
