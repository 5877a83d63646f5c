#pragma once
// Pure helpers of the end-to-end test: they turn the repository's rule files, dashboards
// and Alertmanager config into what a stack on loopback with 1s intervals needs.
#include <string>
#include <string_view>
#include <vector>

namespace assets::testing {

// The rule file with every non-zero `for:` duration replaced by `duration`, so alerts
// fire within seconds instead of minutes. Everything else is kept byte for byte.
std::string shorten_for_durations(std::string_view rules_yaml, std::string_view duration);

// Grafana's template variables in a PromQL expression replaced for a direct query:
// $__rate_interval, $__interval and $__range by 1m (their _ms/_s forms by the number),
// every other $name, ${name} and ${name:format} by the regex .* (the dashboards use
// variables only in =~ matchers). A `$` that starts no name (e.g. a regex anchor) stays.
std::string substitute_grafana_variables(std::string_view expression);

struct DashboardQuery {
  std::string dashboard;  // the dashboard's title
  std::string where;      // "panel <title>" or "variable <name>"
  std::string expression;  // as written in the dashboard, variables not yet substituted
};

// Every PromQL expression of a dashboard: the targets of every panel (also inside rows),
// and the query variables. A variable's label_values(selector, label) becomes
// `group by (label) (selector)`, so the same "returns a series" check covers it.
// Throws std::runtime_error when the JSON cannot be parsed.
std::vector<DashboardQuery> dashboard_queries(std::string_view dashboard_json);

// deploy/alertmanager/alertmanager.yml with its routing and inhibition kept, every route's
// group_wait and group_interval set to `wait` (kept as shipped when `wait` is empty), and
// every webhook pointed at `webhook_url`.
std::string alertmanager_config_for_test(std::string_view deploy_yaml, const std::string& webhook_url,
                                         const std::string& wait);

// Percent-encoding for a URL query parameter value.
std::string url_encode(std::string_view text);

}  // namespace assets::testing
