// assets-agent: the daemon, `check`, `config check` and `healthcheck`.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "agent/agent.h"
#include "agent/build_info.h"
#include "agent/check_command.h"
#include "agent/healthcheck_command.h"
#include "agent/maintenance_command.h"
#include "collectors/maintenance/config.h"
#include "agent/log.h"
#include "agent/service_manager.h"

namespace {

using namespace assets;

using Clock = std::chrono::steady_clock;

constexpr auto kStopBudget = std::chrono::milliseconds(1500);
// Process metrics age between collector runs; the main loop refreshes them this often.
constexpr std::chrono::seconds kSnapshotRefreshPeriod{5};
constexpr std::size_t kThreadStackBytes = 512 << 10;

void print_config_errors(const ConfigLoadError& e) {
  // Under systemd these lines say why the service did not start: at priority error.
  const std::string_view priority = log::journal_prefix(log::Level::error);
  for (const auto& error : e.errors()) std::cerr << priority << error.to_string() << '\n';
  std::cerr << priority << e.errors().size() << (e.errors().size() == 1 ? " error" : " errors")
            << " in the configuration\n";
}

// A run that outlasts its timeout by this much is stuck in a call that ignores its
// deadline; the watchdog then stops pinging and systemd restarts the agent.
constexpr std::chrono::seconds kStalledRunGrace{60};

std::string listening_status(const Agent& agent) {
  std::string ports;
  for (int port : agent.ports()) ports += (ports.empty() ? ":" : ", :") + std::to_string(port);
  return "serving /metrics on " + ports + " (" + (agent.serves_tls() ? "https" : "http") + "), " +
         std::to_string(agent.collector_count()) + " collectors";
}

// Pings systemd's watchdog from the main loop, every half WatchdogSec=, while no collector
// is stalled. While one is, it checks again at the same pace without pinging, and says so
// in the log and the status line once.
class Watchdog {
 public:
  Watchdog() : interval_(service_manager::watchdog_ping_interval()) {
    // A WATCHDOG_USEC of 1 would make half of it 0: a busy loop.
    if (interval_) interval_ = std::max<std::chrono::microseconds>(*interval_, std::chrono::milliseconds(1));
  }

  // When tick() next has something to do; none without a watchdog.
  std::optional<Clock::time_point> due() const {
    if (!interval_) return std::nullopt;
    return next_check_;
  }

  void tick(const Agent& agent) {
    if (!interval_) return;
    const auto now = Clock::now();
    if (now < next_check_) return;
    next_check_ = now + *interval_;
    const auto stalled = agent.stalled_collectors(kStalledRunGrace);
    if (!stalled.empty()) {
      if (!holding_back_) {
        log::error("collector run stalled past its timeout; no more watchdog pings, systemd will restart the agent",
                   {{"collector", stalled.front()}});
        service_manager::status("collector " + stalled.front() + " stalled past its timeout");
      }
      holding_back_ = true;
      return;
    }
    if (holding_back_) {
      log::info("stalled collector run ended; watchdog pings resume");
      service_manager::status(listening_status(agent));
    }
    holding_back_ = false;
    service_manager::watchdog_ping();
  }

 private:
  std::optional<std::chrono::microseconds> interval_;
  Clock::time_point next_check_{};  // the epoch: the first tick pings
  bool holding_back_ = false;
};

timespec until(Clock::time_point deadline) {
  const auto left = std::max<Clock::duration>(deadline - Clock::now(), std::chrono::microseconds(100));
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
  return timespec{static_cast<time_t>(seconds.count()),
                  static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(left - seconds).count())};
}

[[noreturn]] void run_daemon(const AgentOptions& options, const sigset_t& signals) {
  Agent agent(collector_registry(), options);
  agent.start();
  for (int port : agent.ports()) {
    const std::string scheme = agent.serves_tls() ? "https" : "http";
    log::info("listening",
              {{"port", std::to_string(port)}, {"url", scheme + "://127.0.0.1:" + std::to_string(port) + "/metrics"}});
  }
  // Listening, and every collector scheduled: a unit ordered after this one may scrape.
  service_manager::ready(listening_status(agent));
  Watchdog watchdog;
  auto next_refresh = Clock::now() + kSnapshotRefreshPeriod;
  for (;;) {
    watchdog.tick(agent);
    if (Clock::now() >= next_refresh) {
      agent.store().refresh();
      next_refresh = Clock::now() + kSnapshotRefreshPeriod;
    }
    // Until the earlier of the two deadlines, however often signals wake the loop.
    const timespec wait = until(std::min(next_refresh, watchdog.due().value_or(next_refresh)));
    const int signal_number = sigtimedwait(&signals, nullptr, &wait);
    if (signal_number < 0) continue;  // a deadline (or EINTR): the top of the loop sees which
    if (signal_number == SIGHUP) {
      log::info("reloading configuration", {{"trigger", "SIGHUP"}});
      agent.reload(std::chrono::milliseconds(0));  // on the reload thread: SIGTERM is never held up
    } else {
      log::info("stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
      service_manager::stopping();
      if (!agent.stop(kStopBudget)) {
        log::warn("collector runs did not end in time; exiting without waiting for them");
      }
      // No teardown past this point: civetweb's accept loop notices a stop only every 2 s,
      // and a collector stuck in a blocking call must not hold the process either.
      _exit(kExitOk);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Fewer malloc arenas: this is a small, mostly idle process with several threads.
  mallopt(M_ARENA_MAX, 2);
  // Smaller thread stacks than glibc's 8 MiB. A run of tcp, postgres or dns checks starts up
  // to 64 threads; glibc keeps at most 40 MiB of ended threads' stacks for reuse, so with
  // 8 MiB stacks most were unmapped and mapped again every run, each unmap a TLB shootdown
  // across CPUs (perf: a fifth of a tcp check's CPU). 512 KiB stacks are all kept, and are
  // still far more than a check's deepest call (libpq, OpenSSL, getaddrinfo).
  pthread_attr_t thread_defaults;
  if (pthread_attr_init(&thread_defaults) == 0) {
    pthread_attr_setstacksize(&thread_defaults, kThreadStackBytes);
    pthread_setattr_default_np(&thread_defaults);
    pthread_attr_destroy(&thread_defaults);
  }

  CLI::App app{"assets-agent: health, containers, backups, certificates and credentials of an Assets host, for Prometheus"};
  app.set_version_flag("--version", std::string(build::kVersion) + " (revision " + build::kRevision + ")");
  std::optional<std::string> config_file;
  AgentOptions options;
  std::vector<std::string> listen_addresses;
  std::optional<std::string> web_config_file;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  app.add_option("--config.file", config_file, "Configuration file (YAML); without it the embedded default runs");
  app.add_option("--web.listen-address", listen_addresses, "Address to listen on (repeatable); default :9842")
      ->take_all();
  app.add_option("--web.max-connections", options.web.max_connections,
                 "Connections served at once (each holds a thread while its request is read and answered)")
      ->check(CLI::Range(4, 1024));
  app.add_option("--web.config.file", web_config_file,
                 "Web configuration (exporter-toolkit's format): TLS, basic auth, bearer token, headers");
  app.add_flag("--web.enable-lifecycle", options.web.enable_lifecycle, "Enable POST /-/reload (SIGHUP always reloads)");
  app.add_option("--log.level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--log.format", log_format, "logfmt or json")->check(CLI::IsMember({"logfmt", "json"}));

  auto* check = app.add_subcommand("check", "Run every check once (or until all pass, with --wait), print a table, exit 0 when all pass, 1 if not");
  check->fallthrough();
  std::string check_format = "text";
  check->add_option("--format", check_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  CheckOptions check_options;
  std::string check_wait = "0s";
  check->add_option("--wait", check_wait,
                    "Retry failing checks until all pass or this time is up (e.g. 2m), for a post-deploy gate")
      ->check(CLI::Validator(
          [](const std::string& value) {
            return parse_duration(value) ? std::string() : "not a duration (examples: 30s, 2m)";
          },
          "DURATION"));
  std::vector<std::string> collector_names;
  for (const CollectorKind& kind : collector_registry()) collector_names.emplace_back(kind.name);
  check->add_option("--only", check_options.only, "Run only these collectors (comma-separated, e.g. health,containers)")
      ->delimiter(',')
      ->check(CLI::IsMember(collector_names));

  auto* config_command = app.add_subcommand("config", "Configuration commands");
  config_command->fallthrough();
  config_command->require_subcommand(1);
  auto* config_check = config_command->add_subcommand("check", "Validate the configuration and exit 0, or 2");
  config_check->fallthrough();
  bool syntax_only = false;
  config_check->add_flag("--syntax-only", syntax_only,
                         "Check everything but the files the configuration names (secrets, body_file, TLS files), "
                         "e.g. an example meant for another host");

  auto* healthcheck = app.add_subcommand(
      "healthcheck", "GET the agent's /healthz once, for a container's HEALTHCHECK: exit 0 on a 2xx, 1 if not");
  HealthcheckOptions healthcheck_options;
  std::string healthcheck_timeout = "5s";
  healthcheck->add_option("--url", healthcheck_options.url, "URL to ask")->capture_default_str();
  healthcheck->add_option("--timeout", healthcheck_timeout, "Limit for the whole request")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](const std::string& text) {
            const auto duration = parse_duration(text);
            return duration && duration->count() > 0 ? std::string() : "not a positive duration: " + text;
          },
          "DURATION"));
  healthcheck->add_flag("--tls.insecure-skip-verify", healthcheck_options.insecure_skip_verify,
                        "Accept any TLS certificate (an https URL on 127.0.0.1 rarely matches the certificate's name)");

  auto* maintenance = app.add_subcommand(
      "maintenance", "Open or close a maintenance window: the shipped rules hold back app and container alerts");
  maintenance->require_subcommand(1);
  std::optional<std::string> maintenance_state_file;
  maintenance->add_option("--state-file", maintenance_state_file,
                          "The window's file; default: the configuration's maintenance.state_file, else " +
                              std::string(kDefaultMaintenanceStateFile));
  maintenance->fallthrough();
  auto* maintenance_start = maintenance->add_subcommand("start", "Open a window now, for --for (at most 24h)");
  maintenance_start->fallthrough();
  std::string maintenance_length;
  MaintenanceOptions maintenance_options;
  maintenance_start->add_option("--for", maintenance_length, "How long, e.g. 30m")
      ->required()
      ->check(CLI::Validator(
          [](const std::string& text) {
            const auto duration = parse_duration(text);
            return duration && duration->count() > 0 ? std::string() : "not a positive duration: " + text;
          },
          "DURATION"));
  maintenance_start->add_option("--reason", maintenance_options.reason, "Why, e.g. \"deploy 1a2b3c\"");
  auto* maintenance_end = maintenance->add_subcommand("end", "Close the window now");
  maintenance_end->fallthrough();
  auto* maintenance_status = maintenance->add_subcommand("status", "Show the window");
  maintenance_status->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    if (code == 0) return kExitOk;
    // Docker reserves exit code 2 of a HEALTHCHECK command.
    return healthcheck->parsed() ? kExitCheckFailed : kExitConfigError;
  }
  if (healthcheck->parsed()) {
    healthcheck_options.timeout = *parse_duration(healthcheck_timeout);
    return run_healthcheck_command(healthcheck_options, std::cout);
  }
  if (maintenance->parsed()) {
    try {
      if (maintenance_state_file) {
        maintenance_options.state_file = *maintenance_state_file;
      } else {
        // The file the agent reads: its configuration's, when one is given.
        const Config config = load_config_or_throw(collector_registry(), config_file, {.read_named_files = false});
        const auto* section = config.section<MaintenanceConfig>("maintenance");
        maintenance_options.state_file = section ? section->state_file : kDefaultMaintenanceStateFile;
      }
    } catch (const ConfigLoadError& e) {
      // A half-edited config in the middle of a deploy must not keep a window from ending.
      print_config_errors(e);
      std::cerr << "maintenance: the configuration names the state file; give --state-file "
                << kDefaultMaintenanceStateFile << " (or the configured one) to go on without it\n";
      return e.exit_code();
    }
    if (maintenance_start->parsed()) {
      maintenance_options.length = *parse_duration(maintenance_length);
      return run_maintenance_start(maintenance_options, std::cout, std::cerr);
    }
    if (maintenance_end->parsed()) return run_maintenance_end(maintenance_options, std::cout, std::cerr);
    return run_maintenance_status(maintenance_options, std::cout, std::cerr);
  }
  // `check` prints a table; the collectors' warnings about the targets it lists would only
  // repeat it on stderr, so they show only when a level is asked for.
  if (check->parsed() && app.get_option("--log.level")->count() == 0) log_level = "error";
  log::configure(*log::parse_level(log_level), *log::parse_format(log_format));
  log::detect_journal_stream();

  try {
    if (config_check->parsed()) {
      if (!config_file && !web_config_file) {
        std::cerr << "config check needs --config.file, --web.config.file, or both\n";
        return kExitConfigError;
      }
      const ConfigOptions config_check_options{.read_named_files = !syntax_only};
      const char* verdict = syntax_only ? ": ok (files it names not checked)\n" : ": ok\n";
      if (config_file) {
        load_config_or_throw(collector_registry(), config_file, config_check_options);
        std::cout << *config_file << verdict;
      }
      if (web_config_file) {
        load_web_config_or_throw(web_config_file, config_check_options);
        std::cout << *web_config_file << verdict;
      }
      return kExitOk;
    }
    if (check->parsed()) {
      const Config config = load_config_or_throw(collector_registry(), config_file);
      check_options.format = check_format == "json" ? CheckFormat::json : CheckFormat::text;
      check_options.wait = *parse_duration(check_wait);
      return run_check_command(collector_registry(), config, check_options, std::cout, std::cerr);
    }

    // Signals are taken by the main thread alone: block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    options.config_file = config_file;
    options.web_config_file = web_config_file;
    if (!listen_addresses.empty()) options.web.listen_addresses = listen_addresses;
    run_daemon(options, signals);
  } catch (const ConfigLoadError& e) {
    print_config_errors(e);
    return e.exit_code();
  } catch (const AgentError& e) {
    log::error("cannot start", {{"error", e.what()}});
    return e.exit_code();
  }
}
