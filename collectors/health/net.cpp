#include "collectors/health/net.h"

#include <cerrno>

#include "collectors/health/check.h"

namespace assets::health {

std::string_view reason_of(const net::Failure& failure) {
  switch (failure.kind) {
    case net::FailureKind::timeout:
      return reason::kTimeout;
    case net::FailureKind::dns:
      return reason::kDns;
    case net::FailureKind::connect:
      return failure.connect_errno == ETIMEDOUT ? reason::kTimeout : reason::kRefused;
    case net::FailureKind::stopped:
    case net::FailureKind::other:
      break;
  }
  return reason::kOther;
}

}  // namespace assets::health
