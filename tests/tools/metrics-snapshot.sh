#!/bin/bash
# /metrics of the embedded default and of deploy/assets-agent.yml once every collector has
# run, with the values that are measured or read from the clock masked: two snapshots of
# two builds compare byte for byte (HELP, TYPE and the order of series included).
#   tests/tools/metrics-snapshot.sh OLD_BINARY /tmp/before
#   tests/tools/metrics-snapshot.sh build/release/assets-agent /tmp/after
#   diff /tmp/before/default.prom /tmp/after/default.prom && diff /tmp/before/deploy.prom /tmp/after/deploy.prom
set -u
bin=$1
out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
port=${PORT:-19842}
mkdir -p "$out"
secrets=$(mktemp -d)
trap 'rm -rf "$secrets"' EXIT
echo token >"$secrets/assets_monitor_token"
echo password >"$secrets/db_monitor_password"
# The example with its secrets (step two of docs/deploy.md), pointed at stand-ins.
sed -E "s@# ((bearer_token|password)_file): /run/credentials/assets-agent.service@\1: $secrets@" \
  "$src/deploy/assets-agent.yml" >"$out/deploy.yml"
capture() {
  local name=$1
  shift
  "$bin" --web.listen-address=127.0.0.1:$port "$@" >"$out/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  sleep 12 # past the first run of every collector (their timeouts are at most 10 s)
  curl -s "http://127.0.0.1:$port/metrics" >"$out/$name.raw"
  kill $pid
  wait $pid 2>/dev/null
  sed -E -e 's/^(([a-z_]*(duration|timestamp|start_time)[a-z_]*|process_[a-z_]*|assets_cert_(not_after|not_before|expires_in)[a-z_]*)(\{[^}]*\})?) .*/\1 <masked>/' \
    -e 's/revision="[^"]*"/revision="<r>"/' "$out/$name.raw" >"$out/$name.prom"
}
capture default
capture deploy --config.file="$out/deploy.yml"
