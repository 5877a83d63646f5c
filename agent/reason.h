#pragma once
// The values of the `reason` labels that more than one collector uses, spelled once, so a
// dashboard or an alert that matches reason="timeout" means the same thing everywhere. Each
// collector adds its own beside these (docs/metrics.md lists every value per metric).
#include <string_view>

namespace assets::reason {

inline constexpr std::string_view kTimeout = "timeout";
inline constexpr std::string_view kRefused = "refused";
inline constexpr std::string_view kDns = "dns";
inline constexpr std::string_view kTls = "tls";
inline constexpr std::string_view kProtocol = "protocol";
inline constexpr std::string_view kNotFound = "not_found";
inline constexpr std::string_view kPermissionDenied = "permission_denied";
inline constexpr std::string_view kOther = "other";

}  // namespace assets::reason
