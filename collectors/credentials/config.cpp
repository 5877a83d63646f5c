#include "collectors/credentials/config.h"

#include <set>

#include "agent/config_reader.h"

namespace assets {
namespace {

constexpr Duration kDefaultMaxAge = 90 * std::chrono::hours(24);
constexpr Duration kDefaultWarnBefore = 14 * std::chrono::hours(24);

// A name is a label value and a key in alerts: keep it to what reads well in both.
bool is_credential_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string_view::npos;
}

// Only called where max_age or warn_before is written; the error names the key written.
void check_policy(ConfigReader& reader, MapReader& map, Duration max_age, Duration warn_before) {
  if (max_age.count() <= 0) {
    // A section's max_age of 0 is reported once, at the section, not again at each file.
    if (map.has("max_age")) reader.error(map.get("max_age"), map.path("max_age"), "must be greater than 0");
  } else if (warn_before >= max_age) {
    const bool warn_written = map.has("warn_before");
    const bool max_age_written = map.has("max_age");
    const std::string_view key = warn_written ? "warn_before" : "max_age";
    reader.error(map.get(key), map.path(key),
                 "warn_before (" + format_duration(warn_before) + (warn_written ? "" : ", not set here") +
                     ") must be shorter than max_age (" + format_duration(max_age) +
                     (max_age_written ? "" : ", not set here") + ")");
  }
}

}  // namespace

std::shared_ptr<const CredentialsConfig> decode_credentials_section(const SectionInput& input) {
  ConfigReader& reader = input.reader;
  MapSection section = open_map_section(reader, input.node, "credentials", input.global);
  auto credentials = std::make_shared<CredentialsConfig>();
  credentials->interval = section.schedule.interval;
  credentials->timeout = section.schedule.timeout;
  if (!section.map) return nullptr;  // nothing to watch without files
  MapReader& map = *section.map;
  Duration max_age = kDefaultMaxAge;
  Duration warn_before = kDefaultWarnBefore;
  map.read_duration("max_age", max_age);
  map.read_duration("warn_before", warn_before);
  if (map.has("max_age") || map.has("warn_before")) check_policy(reader, map, max_age, warn_before);
  const YAML::Node files = map.get("files");
  if (files.IsDefined() && !files.IsSequence()) {
    reader.error(files, map.path("files"), "must be a list of credential files");
  } else if (files.IsDefined()) {
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < files.size(); ++i) {
      MapReader file_map(reader, files[i], indexed(map.path("files"), i));
      if (!file_map.valid()) continue;
      CredentialConfig file{.name = {}, .path = {}, .max_age = max_age, .warn_before = warn_before};
      file_map.require("name");
      file_map.require("path");
      if (file_map.read("name", file.name)) {
        if (!is_credential_name(file.name)) {
          reader.error(file_map.get("name"), file_map.path("name"),
                       "must be 1 to 64 letters, digits, '_', '.' or '-', not " + quote(file.name));
        } else if (!names.insert(file.name).second) {
          reader.error(file_map.get("name"), file_map.path("name"), "duplicate credential " + quote(file.name));
        }
      }
      if (file_map.read("path", file.path) && file.path.empty()) {
        reader.error(file_map.get("path"), file_map.path("path"), "must not be empty");
      }
      file_map.read_duration("max_age", file.max_age);
      file_map.read_duration("warn_before", file.warn_before);
      if (file_map.has("max_age") || file_map.has("warn_before")) {
        check_policy(reader, file_map, file.max_age, file.warn_before);
      }
      file_map.finish();
      credentials->files.push_back(std::move(file));
    }
  }
  map.finish();
  if (!section.enabled || credentials->files.empty()) return nullptr;
  return credentials;
}

}  // namespace assets
