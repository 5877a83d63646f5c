#pragma once
// The running agent: the loaded configuration, the store, the scheduler that feeds it and
// the web server that reads it. Reloads swap the scheduler only when the new file is valid.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent/collector.h"
#include "agent/config.h"
#include "agent/scheduler.h"
#include "agent/store.h"
#include "agent/web_server.h"

namespace assets {

// Errors that end the process, each with its fixed exit code.
enum ExitCode : int { kExitOk = 0, kExitCheckFailed = 1, kExitConfigError = 2, kExitStartupError = 3 };

class AgentError : public std::runtime_error {
 public:
  AgentError(const std::string& message, ExitCode code) : std::runtime_error(message), code_(code) {}
  ExitCode exit_code() const { return code_; }

 private:
  ExitCode code_;
};

class ConfigLoadError : public AgentError {
 public:
  explicit ConfigLoadError(std::vector<ConfigError> errors);
  const std::vector<ConfigError>& errors() const { return errors_; }

 private:
  std::vector<ConfigError> errors_;
};

class StartupError : public AgentError {
 public:
  explicit StartupError(const std::string& message) : AgentError(message, kExitStartupError) {}
};

// Loads the file, or the embedded default when no file is given. Throws ConfigLoadError.
Config load_config_or_throw(std::span<const CollectorKind> registry, const std::optional<std::string>& config_file,
                            const ConfigOptions& options = {});

// The web config file, or none (no TLS, no authentication); its TLS files are loaded to
// check they can be used. Throws ConfigLoadError.
WebConfig load_web_config_or_throw(const std::optional<std::string>& web_config_file, const ConfigOptions& options = {});

// Builds the enabled collectors of a configuration from the registry.
std::vector<ScheduledCollector> build_collectors(std::span<const CollectorKind> registry, const Config& config);

struct AgentOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> web_config_file;
  WebOptions web;
  Duration max_start_jitter = std::chrono::seconds(1);
};

class Agent {
 public:
  // How long a reload waits for the drivers it replaces before abandoning them.
  static constexpr std::chrono::milliseconds kReloadStopBudget{1000};
  // How long an HTTP reload request waits for its outcome.
  static constexpr std::chrono::milliseconds kReloadAnswerWait{5000};

  Agent(std::span<const CollectorKind> registry, AgentOptions options);
  ~Agent();

  // Loads the configuration and starts collectors and web server.
  // Throws ConfigLoadError or StartupError.
  void start();
  // Asks the reload thread to re-read the configuration (on errors it keeps the running
  // one) and waits up to `wait` for the outcome; requests made during a reload are served
  // together by the next one. With a zero wait it only asks.
  ReloadOutcome reload(std::chrono::milliseconds wait = kReloadAnswerWait);
  // Asks the collectors to stop; false when a run did not end within `budget`. Never waits
  // on a reload in progress. The web server keeps answering until the Agent is destroyed.
  bool stop(std::chrono::milliseconds budget);

  Store& store() { return *store_; }
  // Collectors whose run outlasts its timeout by more than `grace` (Scheduler::stalled).
  std::vector<std::string> stalled_collectors(Duration grace) const { return scheduler_.stalled(grace); }
  std::size_t collector_count() const { return scheduler_.names().size(); }
  std::vector<int> ports() const;
  bool serves_tls() const;

 private:
  ReloadOutcome load_and_apply();
  void apply(Config config);
  void reload_loop();

  std::span<const CollectorKind> registry_;
  AgentOptions options_;
  std::shared_ptr<Store> store_;
  Scheduler scheduler_;
  // Only the reload thread (and start(), before it exists) changes these.
  std::optional<Config> config_;

  std::mutex reload_mutex_;
  std::condition_variable reload_changed_;
  std::uint64_t reloads_requested_ = 0;
  std::uint64_t reloads_done_ = 0;
  ReloadOutcome last_reload_;
  bool stopping_ = false;
  std::thread reload_thread_;

  std::unique_ptr<WebServer> web_;
};

}  // namespace assets
