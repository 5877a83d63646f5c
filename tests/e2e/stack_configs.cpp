#include "tests/e2e/stack_configs.h"

#include <cctype>
#include <functional>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace assets::testing {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

bool is_zero_duration(std::string_view value) {
  const auto digits_end = value.find_first_not_of("0");
  return digits_end != 0 && (digits_end == std::string_view::npos || value.substr(digits_end).size() <= 2);
}

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The variable's query, as Grafana stores it: a string, or an object with a "query" key.
std::string variable_query(const nlohmann::json& variable) {
  const auto query = variable.find("query");
  if (query == variable.end()) return "";
  if (query->is_string()) return query->get<std::string>();
  if (query->is_object() && query->contains("query") && (*query)["query"].is_string()) {
    return (*query)["query"].get<std::string>();
  }
  return "";
}

// label_values(selector, label) or label_values(label) as PromQL; "" for other functions.
std::string variable_expression(std::string_view query) {
  query = trim(query);
  constexpr std::string_view label_values = "label_values(";
  constexpr std::string_view query_result = "query_result(";
  if (query.starts_with(query_result) && query.ends_with(')')) {
    return std::string(query.substr(query_result.size(), query.size() - query_result.size() - 1));
  }
  if (!query.starts_with(label_values) || !query.ends_with(')')) return "";
  const std::string_view arguments = query.substr(label_values.size(), query.size() - label_values.size() - 1);
  // A label name has no comma, so the last comma separates it from the selector.
  const auto comma = arguments.rfind(',');
  if (comma == std::string_view::npos) {
    const std::string label(trim(arguments));
    return "group by (" + label + ") ({" + label + "!=\"\"})";
  }
  return "group by (" + std::string(trim(arguments.substr(comma + 1))) + ") (" +
         std::string(trim(arguments.substr(0, comma))) + ")";
}

void collect_panels(const nlohmann::json& panels, const std::string& dashboard, std::vector<DashboardQuery>& out) {
  if (!panels.is_array()) return;
  for (const auto& panel : panels) {
    const std::string title = panel.value("title", std::string("(untitled)"));
    if (const auto targets = panel.find("targets"); targets != panel.end() && targets->is_array()) {
      for (const auto& target : *targets) {
        if (const auto expr = target.find("expr"); expr != target.end() && expr->is_string() &&
                                                   !trim(expr->get<std::string>()).empty()) {
          out.push_back({dashboard, "panel \"" + title + "\"", expr->get<std::string>()});
        }
      }
    }
    // Rows hold their panels inside when collapsed.
    if (const auto nested = panel.find("panels"); nested != panel.end()) collect_panels(*nested, dashboard, out);
  }
}

}  // namespace

std::string shorten_for_durations(std::string_view rules_yaml, std::string_view duration) {
  std::string out;
  std::size_t start = 0;
  while (start < rules_yaml.size()) {
    auto end = rules_yaml.find('\n', start);
    const bool last = end == std::string_view::npos;
    if (last) end = rules_yaml.size();
    const std::string_view line = rules_yaml.substr(start, end - start);
    const auto indent = line.find_first_not_of(' ');
    if (indent != std::string_view::npos && line.substr(indent).starts_with("for:")) {
      const std::string_view value = trim(line.substr(indent + 4));
      if (is_zero_duration(value)) {
        out += line;
      } else {
        out += std::string(line.substr(0, indent)) + "for: " + std::string(duration);
      }
    } else {
      out += line;
    }
    if (!last) out += '\n';
    start = end + 1;
  }
  return out;
}

std::string substitute_grafana_variables(std::string_view expression) {
  static const std::map<std::string, std::string, std::less<>> builtins = {
      {"__rate_interval", "1m"}, {"__interval", "1m"},   {"__range", "1m"},
      {"__interval_ms", "60000"}, {"__range_s", "60"},   {"__range_ms", "60000"}};
  std::string out;
  std::size_t i = 0;
  while (i < expression.size()) {
    if (expression[i] != '$') {
      out += expression[i++];
      continue;
    }
    std::size_t j = i + 1;
    const bool braced = j < expression.size() && expression[j] == '{';
    if (braced) ++j;
    const std::size_t name_start = j;
    while (j < expression.size() && is_name_char(expression[j])) ++j;
    const std::string_view name = expression.substr(name_start, j - name_start);
    if (braced) {
      j = expression.find('}', j);
      if (j != std::string_view::npos) ++j;
    }
    if (name.empty() || j == std::string_view::npos) {
      out += expression[i++];
      continue;
    }
    if (const auto builtin = builtins.find(name); builtin != builtins.end()) {
      out += builtin->second;
    } else if (name.starts_with("__")) {
      out += expression.substr(i, j - i);  // unknown to the test: Prometheus reports it
    } else {
      out += ".*";
    }
    i = j;
  }
  return out;
}

std::vector<DashboardQuery> dashboard_queries(std::string_view dashboard_json) {
  const nlohmann::json dashboard = nlohmann::json::parse(dashboard_json, nullptr, false);
  if (dashboard.is_discarded() || !dashboard.is_object()) throw std::runtime_error("not a JSON object");
  const std::string title = dashboard.value("title", std::string("(untitled)"));
  std::vector<DashboardQuery> out;
  if (const auto panels = dashboard.find("panels"); panels != dashboard.end()) collect_panels(*panels, title, out);
  const auto templating = dashboard.find("templating");
  if (templating != dashboard.end() && templating->is_object() && templating->contains("list")) {
    for (const auto& variable : (*templating)["list"]) {
      if (variable.value("type", std::string()) != "query") continue;
      const std::string expression = variable_expression(variable_query(variable));
      if (!expression.empty()) {
        out.push_back({title, "variable \"" + variable.value("name", std::string()) + "\"", expression});
      }
    }
  }
  return out;
}

std::string alertmanager_config_for_test(std::string_view deploy_yaml, const std::string& webhook_url,
                                         const std::string& wait) {
  YAML::Node config = YAML::Load(std::string(deploy_yaml));
  const std::function<void(YAML::Node)> shorten = [&](YAML::Node route) {
    const YAML::Node& existing = route;
    if (existing["group_wait"]) route["group_wait"] = wait;
    if (existing["group_interval"]) route["group_interval"] = wait;
    if (existing["routes"]) {
      for (YAML::Node child : route["routes"]) shorten(child);
    }
  };
  if (!wait.empty()) {
    YAML::Node root = config["route"];
    root["group_wait"] = wait;
    root["group_interval"] = wait;
    shorten(root);
  }
  for (YAML::Node receiver : config["receivers"]) {
    const YAML::Node& existing = receiver;
    if (!existing["webhook_configs"]) continue;
    for (YAML::Node webhook : receiver["webhook_configs"]) webhook["url"] = webhook_url;
  }
  YAML::Emitter out;
  out << config;
  return std::string(out.c_str()) + "\n";
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
  return out;
}

}  // namespace assets::testing
