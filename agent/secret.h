#pragma once
// A value that must never reach a log line, an error message or a metric. It has no
// stream operator and no implicit conversion: reading it takes an explicit reveal().
#include <string>
#include <utility>

namespace assets {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  bool operator==(const Secret&) const = default;
  // What logs and the status page show in its place.
  static constexpr const char* kMask = "<secret>";

 private:
  std::string value_;
};

}  // namespace assets
