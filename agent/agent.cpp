#include "agent/agent.h"

#include <algorithm>

#include "agent/log.h"
#include "agent/service_manager.h"
#include "agent/web_tls.h"

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

ConfigLoadError::ConfigLoadError(std::vector<ConfigError> errors)
    : AgentError(join_errors(errors), kExitConfigError), errors_(std::move(errors)) {}

Config load_config_or_throw(std::span<const CollectorKind> registry, const std::optional<std::string>& config_file,
                            const ConfigOptions& options) {
  ConfigResult result =
      config_file ? load_config_file(*config_file, options, registry) : load_default_config(registry);
  if (!result.config) throw ConfigLoadError(std::move(result.errors));
  return std::move(*result.config);
}

WebConfig load_web_config_or_throw(const std::optional<std::string>& web_config_file, const ConfigOptions& options) {
  if (!web_config_file) return {};
  WebConfigResult result = load_web_config_file(*web_config_file, options);
  if (!result.config) throw ConfigLoadError(std::move(result.errors));
  if (result.config->tls && options.read_named_files) {
    try {
      const TlsServerContext check(*result.config->tls);
    } catch (const std::exception& e) {
      throw ConfigLoadError({ConfigError{*web_config_file, 0, 0, "tls_server_config", e.what()}});
    }
  }
  return std::move(*result.config);
}

namespace {

ScheduledCollector schedule(const CollectorKind& kind, const CollectorSection& section) {
  return ScheduledCollector{std::string(kind.name), kind.make(section), section.interval, section.timeout};
}

const CollectorSection* section_of(const Config& config, std::string_view name) {
  const auto it = config.sections.find(name);
  return it == config.sections.end() ? nullptr : it->second.get();
}

}  // namespace

std::vector<ScheduledCollector> build_collectors(std::span<const CollectorKind> registry, const Config& config) {
  std::vector<ScheduledCollector> collectors;
  for (const auto& kind : registry) {
    if (const CollectorSection* section = section_of(config, kind.name)) collectors.push_back(schedule(kind, *section));
  }
  return collectors;
}

Agent::Agent(std::span<const CollectorKind> registry, AgentOptions options)
    : registry_(registry),
      options_(std::move(options)),
      store_(std::make_shared<Store>(unix_time_now())),
      scheduler_(store_, options_.max_start_jitter) {}

Agent::~Agent() {
  {
    std::lock_guard lock(reload_mutex_);
    stopping_ = true;
  }
  reload_changed_.notify_all();  // an HTTP request waiting for a reload answers at once
  web_.reset();
  if (reload_thread_.joinable()) reload_thread_.join();  // a reload is bounded by kReloadStopBudget
}

void Agent::start() {
  WebConfig web_config = load_web_config_or_throw(options_.web_config_file);
  apply(load_config_or_throw(registry_, options_.config_file));
  reload_thread_ = std::thread([this] { reload_loop(); });
  try {
    web_ = std::make_unique<WebServer>(options_.web, *store_, [this] { return reload(); }, web_config);
  } catch (const std::exception& e) {
    throw StartupError(e.what());
  }
}

void Agent::apply(Config config) {
  // A collector whose settings did not change keeps running, with its caches; the others
  // are replaced. The old drivers end (or are abandoned) before the new ones start, so a
  // collector never runs twice at once.
  const std::vector<std::string> running = scheduler_.names();
  std::vector<std::string> names;
  std::vector<std::string> replaced;
  std::vector<ScheduledCollector> fresh;
  for (const auto& kind : registry_) {
    const std::string name(kind.name);
    const bool is_running = std::find(running.begin(), running.end(), name) != running.end();
    const CollectorSection* before = config_ ? section_of(*config_, name) : nullptr;
    const CollectorSection* after = section_of(config, name);
    if (is_running && before != nullptr && after != nullptr && kind.same_settings(*before, *after)) {
      names.push_back(name);
      continue;
    }
    if (is_running) replaced.push_back(name);
    if (after != nullptr) {
      names.push_back(name);
      fresh.push_back(schedule(kind, *after));
    }
  }
  const auto ended = scheduler_.stop(replaced, kReloadStopBudget);
  {
    // A stop that came while this reload waited for the old drivers wins: nothing of the
    // new configuration is published or started.
    std::lock_guard lock(reload_mutex_);
    if (stopping_) return;
  }
  for (auto& collector : fresh) {
    if (auto previous = ended.find(collector.name); previous != ended.end()) {
      collector.collector->take_over(*previous->second);
    }
  }
  store_->set_collectors(names, config.source);
  for (auto& collector : fresh) scheduler_.start(std::move(collector));
  store_->set_reload_status({true, unix_time_now()});
  log::info("configuration loaded", {{"source", config.source},
                                     {"collectors", std::to_string(names.size())},
                                     {"restarted", std::to_string(fresh.size())}});
  config_ = std::move(config);
}

ReloadOutcome Agent::load_and_apply() {
  std::size_t error_count = 1;
  try {
    // Both files are read before either is used: a bad one keeps both running as they are.
    WebConfig web_config = load_web_config_or_throw(options_.web_config_file);
    if (web_) {
      if (auto refusal = web_->reload_refusal(web_config)) {
        throw ConfigLoadError({ConfigError{web_config.source, 0, 0, "", *refusal}});
      }
    }
    Config config = load_config_or_throw(registry_, options_.config_file);
    apply(std::move(config));
    {
      // Under the lock that the destructor takes before it removes the web server.
      std::lock_guard lock(reload_mutex_);
      if (!stopping_ && web_) web_->set_web_config(web_config);
    }
    return {true, "configuration reloaded"};
  } catch (const ConfigLoadError& e) {
    for (const auto& error : e.errors()) log::error("configuration rejected", {{"error", error.to_string()}});
    error_count = e.errors().size();
  } catch (const std::exception& e) {
    log::error("configuration rejected", {{"error", e.what()}});
  }
  auto status = store_->snapshot()->reload;
  status.successful = false;
  store_->set_reload_status(status);
  // The errors themselves go to the log only: they may quote values of the environment.
  return {false, "configuration rejected (" + std::to_string(error_count) +
                     (error_count == 1 ? " error" : " errors") +
                     ", see the agent's log); the running configuration stays"};
}

void Agent::reload_loop() {
  std::unique_lock lock(reload_mutex_);
  for (;;) {
    reload_changed_.wait(lock, [this] { return stopping_ || reloads_requested_ > reloads_done_; });
    if (stopping_) return;
    const std::uint64_t serving = reloads_requested_;
    lock.unlock();
    service_manager::reloading();
    ReloadOutcome outcome = load_and_apply();
    lock.lock();
    // After STOPPING=1, a READY=1 would be a false status.
    if (!stopping_) service_manager::ready(outcome.message);
    reloads_done_ = serving;
    last_reload_ = std::move(outcome);
    reload_changed_.notify_all();
  }
}

ReloadOutcome Agent::reload(std::chrono::milliseconds wait) {
  std::unique_lock lock(reload_mutex_);
  if (stopping_) return {false, "the agent is stopping"};
  const std::uint64_t ticket = ++reloads_requested_;
  reload_changed_.notify_all();
  if (!reload_changed_.wait_for(lock, wait, [&] { return stopping_ || reloads_done_ >= ticket; })) {
    return {false, "reload still in progress; its outcome will be in the log"};
  }
  if (reloads_done_ < ticket) return {false, "the agent is stopping"};
  return last_reload_;
}

bool Agent::stop(std::chrono::milliseconds budget) {
  {
    std::lock_guard lock(reload_mutex_);
    stopping_ = true;
  }
  reload_changed_.notify_all();
  scheduler_.request_stop();
  return scheduler_.wait_stopped(budget);
}

bool Agent::serves_tls() const { return web_ && web_->serves_tls(); }

std::vector<int> Agent::ports() const { return web_ ? web_->ports() : std::vector<int>{}; }

}  // namespace assets
