#include "agent/agent.h"

#include "agent/log.h"

namespace assets {
namespace {

std::string join_errors(const std::vector<ConfigError>& errors) {
  std::string text;
  for (const auto& error : errors) {
    if (!text.empty()) text += '\n';
    text += error.to_string();
  }
  return text;
}

}  // namespace

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ConfigLoadError::ConfigLoadError(std::vector<ConfigError> errors)
    : AgentError(join_errors(errors), kExitConfigError), errors_(std::move(errors)) {}

Config load_config_or_throw(const std::optional<std::string>& config_file) {
  ConfigResult result = config_file ? load_config_file(*config_file) : load_default_config();
  if (!result.config) throw ConfigLoadError(std::move(result.errors));
  return std::move(*result.config);
}

std::vector<ScheduledCollector> build_collectors(std::span<const RegistryEntry> registry, const Config& config) {
  std::vector<ScheduledCollector> collectors;
  for (const auto& entry : registry) {
    if (auto spec = entry.make(config)) collectors.push_back({std::string(entry.name), std::move(*spec)});
  }
  return collectors;
}

Agent::Agent(std::span<const RegistryEntry> registry, AgentOptions options)
    : registry_(registry), options_(std::move(options)), store_(unix_time_now()) {}

Agent::~Agent() {
  web_.reset();
  scheduler_.reset();
}

void Agent::start() {
  std::lock_guard lock(reload_mutex_);
  apply(load_config_or_throw(options_.config_file));
  try {
    web_ = std::make_unique<WebServer>(options_.web, store_, [this] { return reload(); });
  } catch (const std::exception& e) {
    throw StartupError(e.what());
  }
}

void Agent::apply(Config config) {
  auto collectors = build_collectors(registry_, config);
  std::vector<std::string> names;
  for (const auto& collector : collectors) names.push_back(collector.name);
  // The old drivers end before the new ones start, so a collector never runs twice at once.
  scheduler_.reset();
  store_.set_collectors(names, config.source);
  scheduler_ = std::make_unique<Scheduler>(std::move(collectors), store_,
                                           static_cast<std::size_t>(config.global.max_parallel),
                                           options_.max_start_jitter);
  store_.set_reload_status({true, unix_time_now()});
  log::info("configuration loaded", {{"source", config.source}, {"collectors", std::to_string(names.size())}});
}

ReloadOutcome Agent::reload() {
  std::lock_guard lock(reload_mutex_);
  std::string why;
  try {
    apply(load_config_or_throw(options_.config_file));
    return {true, "configuration reloaded"};
  } catch (const ConfigLoadError& e) {
    for (const auto& error : e.errors()) log::error("configuration rejected", {{"error", error.to_string()}});
    why = e.what();
  } catch (const std::exception& e) {
    log::error("configuration rejected", {{"error", e.what()}});
    why = e.what();
  }
  auto status = store_.snapshot()->reload;
  status.successful = false;
  store_.set_reload_status(status);
  return {false, "configuration rejected; the running configuration stays:\n" + why};
}

bool Agent::stop(std::chrono::milliseconds budget) {
  std::lock_guard lock(reload_mutex_);
  if (!scheduler_) return true;
  scheduler_->request_stop();
  return scheduler_->wait_stopped(budget);
}

std::vector<int> Agent::ports() const { return web_ ? web_->ports() : std::vector<int>{}; }

}  // namespace assets
