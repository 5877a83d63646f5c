#include "collectors/backups/pg_restore.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

extern char** environ;

namespace assets::backups {
namespace {

constexpr std::size_t kMaxErrorBytes = 1024;
constexpr int kPollSliceMs = 100;

int poll_timeout_ms(const Budget& budget) {
  const auto remaining = budget.deadline - std::chrono::steady_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(remaining).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, kPollSliceMs));
}

pid_t spawn(const std::string& program, const std::string& file, int stderr_fd, int& error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The agent's threads may block signals; the child starts with none blocked or ignored.
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string list_flag = "--list";
  std::string program_copy = program;
  std::string file_copy = file;
  std::vector<char*> argv{program_copy.data(), list_flag.data(), file_copy.data(), nullptr};
  pid_t pid = -1;
  error = posix_spawnp(&pid, program.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace

VerifyStatus list_with_pg_restore(const std::string& pg_restore, const std::string& file, const Budget& budget) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return {VerifyState::failed, std::string("cannot run pg_restore: ") + std::strerror(errno)};
  int spawn_error = 0;
  const pid_t pid = spawn(pg_restore, file, pipe_fds[1], spawn_error);
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    return {VerifyState::failed, "cannot run " + pg_restore + ": " + std::strerror(spawn_error)};
  }

  std::string errors;
  bool out_of_time = false;
  for (;;) {
    if (budget.exhausted()) {
      out_of_time = true;
      break;
    }
    pollfd poll_fd{pipe_fds[0], POLLIN, 0};
    const int ready = poll(&poll_fd, 1, poll_timeout_ms(budget));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t got = read(pipe_fds[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (errors.size() < kMaxErrorBytes) errors.append(buffer, std::min(static_cast<std::size_t>(got), kMaxErrorBytes));
  }
  close(pipe_fds[0]);

  int status = 0;
  // pg_restore closed stderr, so it is exiting; wait for it within the budget.
  while (!out_of_time) {
    const pid_t waited = waitpid(pid, &status, WNOHANG);
    if (waited == pid || (waited < 0 && errno != EINTR)) break;
    if (budget.exhausted()) {
      out_of_time = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (out_of_time) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return {VerifyState::pending, {}};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return {VerifyState::passed, "pg_restore --list read the table of contents"};
  }
  std::string reason = first_line(errors);
  if (reason.empty()) {
    reason = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                               : "killed by signal " + std::to_string(WTERMSIG(status));
  }
  return {VerifyState::failed, "pg_restore --list failed: " + reason};
}

}  // namespace assets::backups
