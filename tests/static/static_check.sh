#!/usr/bin/env bash
# Static checks of the monitoring bundle (alerts/, deploy/, compose.yml), run by ctest.
#   static_check.sh CHECK SOURCE_DIR [AGENT_BINARY]
# Each check runs the real tool (promtool, amtool, systemd-analyze, docker-compose) and
# fails when the tool is missing: deploy/install-deps.sh --test installs them all.
set -euo pipefail

check=${1:?usage: static_check.sh CHECK SOURCE_DIR [AGENT_BINARY]}
src=${2:?usage: static_check.sh CHECK SOURCE_DIR [AGENT_BINARY]}
agent=${3:-}
cd "$src"

require() {
  command -v "$1" >/dev/null || { echo "$1 not found: run deploy/install-deps.sh --test" >&2; exit 1; }
}

need_agent() {
  [ -n "$agent" ] && [ -x "$agent" ] || { echo "agent binary not built: '$agent'" >&2; exit 1; }
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A copy of the systemd unit that names the built agent, since verify wants ExecStart's
# binary to exist.
unit_copy() {
  need_agent
  sed "s#/usr/bin/assets-agent#${agent}#g" deploy/systemd/assets-agent.service >"$tmp/assets-agent.service"
  echo "$tmp/assets-agent.service"
}

case "$check" in
  alert-rules)
    require promtool
    promtool check rules alerts/*.yml
    ;;
  alert-rule-tests)
    require promtool
    promtool test rules alerts/tests/*.yml
    ;;
  prometheus-config)
    # Resolves rule_files (../../alerts/*.yml) and the file_sd files relative to the config.
    require promtool
    promtool check config deploy/prometheus/prometheus.yml
    # Issue 13, item 4: a shipped file_sd file is a live target that pages for a host that
    # does not exist; examples end in .example.
    shipped=$(find deploy/prometheus/file_sd -name '*.yml')
    [ -z "$shipped" ] || { echo "file_sd files that Prometheus would scrape: $shipped" >&2; exit 1; }
    ;;
  alertmanager-config)
    require amtool
    amtool check-config deploy/alertmanager/alertmanager.yml
    ;;
  systemd-verify)
    require systemd-analyze
    unit=$(unit_copy)
    out=$(systemd-analyze verify "$unit" 2>&1) || { echo "$out" >&2; exit 1; }
    # verify exits 0 on some warnings; any line about our unit is a finding.
    if grep -F "assets-agent.service" <<<"$out"; then exit 1; fi
    echo "systemd-analyze verify: ok"
    ;;
  systemd-security)
    require systemd-analyze
    unit=$(unit_copy)
    out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1) || true
    level=$(sed -n 's/.*Overall exposure level for assets-agent\.service: \([0-9.]*\).*/\1/p' <<<"$out")
    [ -n "$level" ] || { echo "$out" >&2; echo "no exposure level in the output" >&2; exit 1; }
    echo "overall exposure level: $level (limit 2.0)"
    awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' || { grep '✗' <<<"$out" >&2; exit 1; }
    ;;
  compose)
    # Debian's docker-compose checks the file without an engine.
    require docker-compose
    docker-compose --project-directory "$src" -f compose.yml config -q
    echo "docker-compose config: ok"
    ;;
  compose-agent-config)
    # The agent in compose reads its database password from a compose secret; point the
    # copy at a stand-in file so the check covers everything else.
    need_agent
    printf 'stand-in' >"$tmp/db_monitor_password"
    sed "s#/run/secrets/db_monitor_password#$tmp/db_monitor_password#" deploy/compose/assets-agent.yml >"$tmp/assets-agent.yml"
    "$agent" config check --config.file "$tmp/assets-agent.yml"
    ;;
  job-selector-render)
    # The rules and dashboards rendered for a scrape job of the user's (docs/scaling.md) by
    # both renderers, CMake's (installed files) and the PrometheusRule generator's: the
    # selector in place, the rules valid for promtool, the dashboards valid JSON.
    require promtool
    require cmake
    selector='job=~"assets-agent|assets-agent-branch", env!="dev"'
    cmake -DSOURCE_DIR="$src" -DOUTPUT_DIR="$tmp/rendered" "-DJOB_SELECTOR=$selector" -P cmake/render_monitoring.cmake
    promtool check rules "$tmp"/rendered/alerts/*.yml
    grep -qF "up{$selector} == 0" "$tmp/rendered/alerts/agent.yml" ||
      { echo "the rendered AssetsAgentDown does not select up{$selector}" >&2; exit 1; }
    ! grep -rF 'job="assets-agent"' "$tmp/rendered" || { echo "job=\"assets-agent\" left in the rendered files" >&2; exit 1; }
    python3 - "$tmp/rendered/dashboards" "$selector" <<'PY'
import json, pathlib, sys
found = 0
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    found += json.dumps(json.loads(path.read_text())).count(json.dumps(sys.argv[2])[1:-1])
assert found > 0, "no dashboard query selects the job"
print(f"dashboards: {found} queries select {sys.argv[2]}")
PY
    python3 deploy/kubernetes/generate-prometheusrule.py --output "$tmp/prometheusrule.yaml" --job-selector "$selector"
    grep -qF "up{$selector} == 0" "$tmp/prometheusrule.yaml" ||
      { echo "the generated PrometheusRule does not select up{$selector}" >&2; exit 1; }
    echo "job selector rendered: ok"
    ;;
  *)
    echo "unknown check: $check" >&2
    exit 2
    ;;
esac
