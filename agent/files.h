#pragma once
// Reading a file whole, safely: the path may name a FIFO, a device or a file that grows.
// It is opened with O_NONBLOCK (open() on a FIFO would wait for a writer), its type is
// checked on the opened descriptor (a check of the path before opening races with a
// rename), and at most `limit` bytes are read.
#include <cstdint>
#include <optional>
#include <string>

namespace assets {

struct FileReadError {
  int error_number = 0;  // errno of the failed call; 0 for "not a regular file" and "too large"
  std::string message;   // "cannot read PATH: ...", "PATH is not a regular file", "PATH is larger than 1MiB"
};

// The contents, or nullopt with `error` set.
std::optional<std::string> read_regular_file(const std::string& path, std::uint64_t limit, FileReadError& error);

// Opens a regular file for reading as above; -1 with `error` set otherwise. The caller
// closes the descriptor.
int open_regular_file(const std::string& path, FileReadError& error);

}  // namespace assets
