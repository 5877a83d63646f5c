#include "tests/support/container_engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <curl/curl.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace assets::testing {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

// The options every container needs on these machines (see shared notes): no network,
// and rlimits no higher than the defaults. The image is local: never ask a registry.
const std::vector<std::string> kContainerOptions = {"--network=none", "--ulimit", "nofile=1024:1024", "--ulimit",
                                                    "nproc=1000:1000", "--pull=never"};

// A process may end between opening its cmdline and reading it: read() then fails with
// ESRCH, which istreambuf_iterator would throw past every caller (filebuf::underflow).
std::string command_line(const std::filesystem::path& proc_dir) {
  std::string text;
  const int fd = open((proc_dir / "cmdline").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[4096];
  for (ssize_t got; (got = read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(got));
  close(fd);
  return text;
}

}  // namespace

ContainerEngine::ContainerEngine(std::string service_name, const std::string& dir_prefix)
    : service_name_(std::move(service_name)), dir_(std::filesystem::path("/tmp") / (dir_prefix + "XXXXXX")) {}

void ContainerEngine::shut_down() {
  if (!containers_.empty()) {
    std::vector<std::string> args = force_remove_arguments();
    args.insert(args.end(), containers_.begin(), containers_.end());
    cli(args);
  }
  stop_service();
  wait_for_helpers();
  unmount_leftovers();
}

void ContainerEngine::wait_for_helpers() const {
  // The engines' helpers (Podman's conmon and the `podman container cleanup` it starts,
  // Docker's containerd shims) outlive `rm`; the dir can go once no process names it any more.
  const std::string dir = dir_.path().string();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    bool busy = false;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
      const std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (command_line(entry.path()).find(dir) != std::string::npos) {
        busy = true;
        break;
      }
    }
    if (!busy) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int ContainerEngine::cli(const std::vector<std::string>& args, std::string* output) const {
  std::vector<std::string> argv = client_command();
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, output);
}

bool ContainerEngine::start(const std::string& listen_uri) {
  error_ = missing_component();
  if (!error_.empty()) return false;
  if (access("/bin/busybox", X_OK) != 0) {
    error_ = "/bin/busybox not found (package busybox-static)";
    return false;
  }
  const auto image_root = dir_.path() / "image";
  std::filesystem::create_directories(image_root / "bin");
  std::filesystem::copy_file("/bin/busybox", image_root / "bin" / "busybox");
  for (const char* applet : {"sh", "sleep", "true", "false", "cat", "echo"}) {
    std::filesystem::create_symlink("busybox", image_root / "bin" / applet);
  }
  const std::string tarball = (dir_.path() / "image.tar").string();
  std::string output;
  if (run_command({"tar", "-C", image_root.string(), "-cf", tarball, "."}, &output) != 0) {
    error_ = "tar failed: " + output;
    return false;
  }
  socket_path_ = (dir_.path() / "engine.sock").string();
  listen_uri_ = listen_uri.empty() ? "unix://" + socket_path_ : listen_uri;
  // The service first: Docker's client imports through it.
  if (!start_service()) return false;
  if (cli(import_arguments(tarball), &output) != 0) {
    error_ = "import failed: " + output;
    return false;
  }
  return true;
}

bool ContainerEngine::answers_ping() const {
  // A socket that accepts is not enough: dockerd listens before it serves.
  const bool tcp = listen_uri_.rfind("tcp://", 0) == 0;
  const std::string url = tcp ? "http://" + listen_uri_.substr(std::string("tcp://").size()) + "/_ping"
                              : "http://localhost/_ping";
  CURL* curl = curl_easy_init();
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (!tcp) curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return status == 200 && body == "OK";
}

bool ContainerEngine::start_service() {
  const std::string log = (dir_.path() / ("service-" + std::to_string(++service_starts_) + ".log")).string();
  service_ = Process(service_command(), log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (answers_ping()) return true;
    if (!service_.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  error_ = service_name_ + " did not come up on " + listen_uri_ + ": " + text.str();
  return false;
}

void ContainerEngine::stop_service() {
  if (service_.pid() > 0) service_.stop(SIGTERM, std::chrono::seconds(10));
}

std::string ContainerEngine::make_container(const std::string& verb, const std::vector<std::string>& options,
                                            const std::vector<std::string>& command) {
  std::vector<std::string> args = {verb};
  if (verb == "run") args.push_back("--detach");
  args.insert(args.end(), kContainerOptions.begin(), kContainerOptions.end());
  args.insert(args.end(), options.begin(), options.end());
  args.push_back(kImage);
  args.insert(args.end(), command.begin(), command.end());
  std::string output;
  const int status = cli(args, &output);
  // The ID is the last line; podman may warn on the lines before it.
  output = trimmed(output);
  const std::string id = output.substr(output.find_last_of('\n') == std::string::npos ? 0 : output.find_last_of('\n') + 1);
  if (status != 0 || id.size() != 64) {
    error_ = verb + " failed: " + output;
    return "";
  }
  containers_.push_back(id);
  return id;
}

std::string ContainerEngine::run(const std::vector<std::string>& options, const std::vector<std::string>& command) {
  return make_container("run", options, command);
}

std::string ContainerEngine::create(const std::vector<std::string>& options, const std::vector<std::string>& command) {
  return make_container("create", options, command);
}

bool ContainerEngine::remove(const std::string& id) {
  std::vector<std::string> args = force_remove_arguments();
  args.push_back(id);
  const bool removed = cli(args) == 0;
  if (removed) std::erase(containers_, id);
  return removed;
}

std::string ContainerEngine::inspect(const std::string& id, const std::string& format) const {
  std::string output;
  cli({"inspect", "--format", format, id}, &output);
  return trimmed(output);
}

bool ContainerEngine::wait_for(const std::string& id, const std::string& format, const std::string& expected,
                               std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (inspect(id, format) == expected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void ContainerEngine::unmount_leftovers() {
  // A container mount left behind (a helper killed midway), or the bind mount of Docker's
  // data root on itself, which a daemon run with --live-restore leaves, would keep the dir.
  std::ifstream mountinfo("/proc/self/mountinfo");
  const std::string prefix = dir_.path().string() + "/";
  std::vector<std::string> mounts;
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    if (mount_point.rfind(prefix, 0) == 0) mounts.push_back(mount_point);
  }
  // Deepest first.
  std::sort(mounts.begin(), mounts.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& mount_point : mounts) umount2(mount_point.c_str(), MNT_DETACH);
}

}  // namespace assets::testing
