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

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

// Written to a new file of its own beside the target (mkostemp: never a FIFO or a link
// someone left there) and renamed over it, so the agent never reads half a window. Mode
// 0644: the agent's own user reads it, whoever writes it.
bool write_atomically(const std::string& path, const std::string& text, std::string& error) {
  const std::filesystem::path target(path);
  std::string temporary = (target.parent_path() / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) {
    error = "cannot write in " + target.parent_path().string() + ": " + errno_text(errno);
    return false;
  }
  const bool written = fchmod(fd, 0644) == 0 &&
                       write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  const int write_errno = errno;
  close(fd);
  if (!written || rename(temporary.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + errno_text(written ? errno : write_errno);
    unlink(temporary.c_str());
    return false;
  }
  // The rename itself survives a crash once the folder is synced.
  const int folder = open(target.parent_path().empty() ? "." : target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder >= 0) {
    fsync(folder);
    close(folder);
  }
  return true;
}

// Missing folders are made 0755 whatever the caller's umask (sudo often sets 077): the
// agent's own user must get in to read the window.
bool make_folders(const std::filesystem::path& folder, std::string& error) {
  if (folder.empty() || std::filesystem::exists(folder)) return true;
  if (!make_folders(folder.parent_path(), error)) return false;
  if (mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
    error = "cannot create " + folder.string() + ": " + errno_text(errno);
    return false;
  }
  chmod(folder.c_str(), 0755);
  return true;
}


std::string describe(const MaintenanceWindow& window, double now) {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::duration<double>(window.end - now));
  std::string text = window.active(now) ? "open, " + format_duration(left) + " left"
                     : now < window.start ? "not yet open"
                                          : "ended";
  if (!window.reason.empty()) text += " (" + printable_reason(window.reason) + ")";
  return text;
}

}  // namespace

int run_maintenance_start(const MaintenanceOptions& options, std::ostream& out, std::ostream& err) {
  if (options.length.count() <= 0 || options.length > kMaxMaintenanceWindow) {
    err << "maintenance start: --for must be longer than 0s and at most " << format_duration(kMaxMaintenanceWindow)
        << "\n";
    return kExitConfigError;
  }
  const double now = unix_time_now();
  const MaintenanceWindow window{now, now + to_seconds(options.length), printable_reason(options.reason)};
  std::string error;
  if (!make_folders(std::filesystem::path(options.state_file).parent_path(), error) ||
      !write_atomically(options.state_file, serialize_maintenance_window(window), error)) {
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
  out << "maintenance window " << describe(*window, unix_time_now()) << "\n";
  return kExitOk;
}

}  // namespace assets
