#include "tests/support/podman_engine.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

namespace assets::testing {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

bool unix_socket_accepts(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

// The options every container needs on these machines (see shared notes): no network,
// and rlimits no higher than the defaults.
const std::vector<std::string> kContainerOptions = {"--network=none", "--ulimit", "nofile=1024:1024", "--ulimit",
                                                    "nproc=1000:1000"};

}  // namespace

PodmanEngine::PodmanEngine() : podman_(find_program("podman")) {}

PodmanEngine::~PodmanEngine() {
  if (!containers_.empty()) {
    std::vector<std::string> args = {"rm", "--force", "--time", "0"};
    args.insert(args.end(), containers_.begin(), containers_.end());
    podman(args);
  }
  stop_service();
  wait_for_helpers();
  unmount_store();
}

void PodmanEngine::wait_for_helpers() const {
  // conmon and the `podman container cleanup` it starts outlive `podman rm`; the store
  // can go once no process names it any more.
  const std::string dir = dir_.path().string();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    bool busy = false;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
      const std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream cmdline(entry.path() / "cmdline", std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
      if (text.find(dir) != std::string::npos) {
        busy = true;
        break;
      }
    }
    if (!busy) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::vector<std::string> PodmanEngine::base_command() const {
  const auto& dir = dir_.path();
  return {podman_,
          "--root", (dir / "root").string(),
          "--runroot", (dir / "runroot").string(),
          "--tmpdir", (dir / "tmp").string(),
          // No private bind mount of the store on itself, which would outlive the test.
          "--storage-opt", "overlay.skip_mount_home=true",
          "--events-backend=file",
          "--runtime", "runc",
          "--cgroup-manager=cgroupfs"};
}

int PodmanEngine::podman(const std::vector<std::string>& args, std::string* output) const {
  std::vector<std::string> argv = base_command();
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, output);
}

bool PodmanEngine::start(const std::string& listen_uri) {
  if (podman_.empty()) {
    error_ = "podman not found";
    return false;
  }
  if (find_program("runc").empty()) {
    error_ = "runc not found";
    return false;
  }
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
  if (podman({"import", "--quiet", tarball, kImage}, &output) != 0) {
    error_ = "podman import failed: " + output;
    return false;
  }
  socket_path_ = (dir_.path() / "engine.sock").string();
  listen_uri_ = listen_uri.empty() ? "unix://" + socket_path_ : listen_uri;
  return start_service();
}

bool PodmanEngine::start_service() {
  std::vector<std::string> argv = base_command();
  argv.insert(argv.end(), {"system", "service", "--time=0", listen_uri_});
  const std::string log = (dir_.path() / ("service-" + std::to_string(++service_starts_) + ".log")).string();
  service_ = Process(argv, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const bool tcp = listen_uri_.rfind("tcp://", 0) == 0;
  const int port = tcp ? std::stoi(listen_uri_.substr(listen_uri_.rfind(':') + 1)) : 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (tcp ? wait_for_tcp(port, std::chrono::milliseconds(50)) : unix_socket_accepts(socket_path_)) return true;
    if (!service_.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  error_ = "podman system service did not come up on " + listen_uri_ + ": " + text.str();
  return false;
}

void PodmanEngine::stop_service() {
  if (service_.pid() > 0) service_.stop(SIGTERM, std::chrono::seconds(10));
}

std::string PodmanEngine::make_container(const std::string& verb, const std::vector<std::string>& options,
                                         const std::vector<std::string>& command) {
  std::vector<std::string> args = {verb};
  if (verb == "run") args.push_back("--detach");
  args.insert(args.end(), kContainerOptions.begin(), kContainerOptions.end());
  args.insert(args.end(), options.begin(), options.end());
  args.push_back(kImage);
  args.insert(args.end(), command.begin(), command.end());
  std::string output;
  const int status = podman(args, &output);
  // The ID is the last line; podman may warn on the lines before it.
  output = trimmed(output);
  const std::string id = output.substr(output.find_last_of('\n') == std::string::npos ? 0 : output.find_last_of('\n') + 1);
  if (status != 0 || id.size() != 64) {
    error_ = "podman " + verb + " failed: " + output;
    return "";
  }
  containers_.push_back(id);
  return id;
}

std::string PodmanEngine::run(const std::vector<std::string>& options, const std::vector<std::string>& command) {
  return make_container("run", options, command);
}

std::string PodmanEngine::create(const std::vector<std::string>& options, const std::vector<std::string>& command) {
  return make_container("create", options, command);
}

bool PodmanEngine::remove(const std::string& id) {
  const bool removed = podman({"rm", "--force", "--time", "0", id}) == 0;
  if (removed) std::erase(containers_, id);
  return removed;
}

std::string PodmanEngine::inspect(const std::string& id, const std::string& format) const {
  std::string output;
  podman({"inspect", "--format", format, id}, &output);
  return trimmed(output);
}

bool PodmanEngine::wait_for(const std::string& id, const std::string& format, const std::string& expected,
                            std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (inspect(id, format) == expected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void PodmanEngine::unmount_store() {
  // A container mount left behind (a helper killed midway) would keep the temp dir.
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
