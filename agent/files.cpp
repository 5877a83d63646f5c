#include "agent/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/units.h"

namespace assets {

int open_regular_file(const std::string& path, FileReadError& error) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    error = {errno, "cannot read " + path + ": " + std::strerror(errno)};
    return -1;
  }
  struct stat status {};
  if (fstat(fd, &status) != 0) {
    error = {errno, "cannot read " + path + ": " + std::strerror(errno)};
    close(fd);
    return -1;
  }
  if (!S_ISREG(status.st_mode)) {
    error = {0, path + " is not a regular file"};
    close(fd);
    return -1;
  }
  return fd;
}

std::optional<std::string> read_regular_file(const std::string& path, std::uint64_t limit, FileReadError& error) {
  const int fd = open_regular_file(path, error);
  if (fd < 0) return std::nullopt;
  std::string contents;
  char buffer[8192];
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      error = {errno, "cannot read " + path + ": " + std::strerror(errno)};
      close(fd);
      return std::nullopt;
    }
    if (got == 0) break;
    contents.append(buffer, static_cast<std::size_t>(got));
    if (contents.size() > limit) {
      error = {0, path + " is larger than " + format_size(limit)};
      close(fd);
      return std::nullopt;
    }
  }
  close(fd);
  return contents;
}

}  // namespace assets
