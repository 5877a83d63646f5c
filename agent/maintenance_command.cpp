#include "agent/maintenance_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <ostream>
#include <system_error>

#include "agent/agent.h"
#include "agent/files.h"
#include "collectors/maintenance/window.h"

namespace assets {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

// Written beside the target and renamed over it, so the agent never reads half a window.
// Mode 0644: the agent's own user reads it, whoever writes it.
bool write_atomically(const std::string& path, const std::string& text, std::string& error) {
  const std::string temporary = path + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    error = "cannot write " + temporary + ": " + errno_text(errno);
    return false;
  }
  fchmod(fd, 0644);
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  const int write_errno = errno;
  close(fd);
  if (!written || rename(temporary.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + errno_text(written ? errno : write_errno);
    unlink(temporary.c_str());
    return false;
  }
  return true;
}

std::string describe(const MaintenanceWindow& window, double now) {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::duration<double>(window.end - now));
  std::string text = window.active(now) ? "open, " + format_duration(left) + " left"
                     : now < window.start ? "not yet open"
                                          : "ended";
  if (!window.reason.empty()) text += " (" + window.reason + ")";
  return text;
}

}  // namespace

int run_maintenance_start(const MaintenanceOptions& options, std::ostream& out, std::ostream& err) {
  if (options.length.count() <= 0 || options.length > kMaxMaintenanceWindow) {
    err << "maintenance start: --for must be longer than 0s and at most " << format_duration(kMaxMaintenanceWindow)
        << "\n";
    return kExitConfigError;
  }
  const double now = now_seconds();
  const MaintenanceWindow window{now, now + to_seconds(options.length), options.reason.substr(0, kMaxMaintenanceReason)};
  std::string error;
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(options.state_file).parent_path(), ignored);
  if (!write_atomically(options.state_file, serialize_maintenance_window(window), error)) {
    err << "maintenance start: " << error << "\n";
    return kExitCheckFailed;
  }
  out << "maintenance window " << describe(window, now) << ", in " << options.state_file << "\n";
  return kExitOk;
}

int run_maintenance_end(const MaintenanceOptions& options, std::ostream& out, std::ostream& err) {
  if (unlink(options.state_file.c_str()) != 0 && errno != ENOENT) {
    err << "maintenance end: cannot remove " << options.state_file << ": " << errno_text(errno) << "\n";
    return kExitCheckFailed;
  }
  out << "maintenance window ended\n";
  return kExitOk;
}

int run_maintenance_status(const MaintenanceOptions& options, std::ostream& out, std::ostream& err) {
  FileReadError read_error;
  const auto text = read_regular_file(options.state_file, kMaxMaintenanceFileBytes, read_error);
  if (!text && read_error.error_number == ENOENT) {
    out << "no maintenance window\n";
    return kExitOk;
  }
  std::string error;
  const auto window = text ? parse_maintenance_window(*text, error) : std::nullopt;
  if (!window) {
    err << "maintenance status: " << (text ? options.state_file + ": " + error : read_error.message) << "\n";
    return kExitCheckFailed;
  }
  out << "maintenance window " << describe(*window, now_seconds()) << "\n";
  return kExitOk;
}

}  // namespace assets
