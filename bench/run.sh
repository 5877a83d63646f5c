#!/usr/bin/env bash
# Side-by-side measurements of assets-agent and its Debian peers (node_exporter,
# blackbox_exporter, postgres_exporter), in one run, as ratios. Loopback only; every
# load loop is bounded in time. Usage: bench/run.sh BUILD_DIR
set -euo pipefail
build_dir=${1:-build/release}
agent=$(realpath "$build_dir/assets-agent")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
memory_line() { printf '%-19s rss %6s  anon %6s  pss %6s\n' "$1" "$(rss_kib "$2")" "$(anon_kib "$2")" "$(pss_kib "$2")"; }
wait_http() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
start() { # name port cmd...
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  echo $!
}
rps() { # url [header]
  wrk -t2 -c8 -d5s ${2:+-H "$2"} "$1" | awk '/Requests\/sec/ {print $2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "# assets-agent bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"

# --- idle RSS and /metrics throughput against node_exporter ---------------------------
agent_port=$(free_port); node_port=$(free_port); blackbox_port=$(free_port); pg_port=$(free_port)
agent_pid=$(start agent "$agent" --web.listen-address "127.0.0.1:$agent_port")
node_pid=$(start node prometheus-node-exporter --web.listen-address "127.0.0.1:$node_port")
printf 'modules:\n  http_2xx:\n    prober: http\n' >"$work/blackbox.yml"
blackbox_pid=$(start blackbox prometheus-blackbox-exporter --config.file "$work/blackbox.yml" --web.listen-address "127.0.0.1:$blackbox_port")
pg_pid=$(DATA_SOURCE_NAME="postgresql://bench@127.0.0.1:1/postgres?sslmode=disable" start postgres prometheus-postgres-exporter --web.listen-address "127.0.0.1:$pg_port")
for p in $agent_port $node_port $blackbox_port $pg_port; do wait_http "http://127.0.0.1:$p/metrics"; done
# Let every collector run once and the scrapers warm up, then read idle memory.
for p in $agent_port $node_port $blackbox_port $pg_port; do curl -s -o /dev/null "http://127.0.0.1:$p/metrics"; done
sleep 12
agent_rss=$(rss_kib "$agent_pid"); node_rss=$(rss_kib "$node_pid")
echo
echo "## idle memory (KiB) after one scrape and 12 s: resident, anonymous, proportional"
memory_line assets-agent "$agent_pid"
memory_line node_exporter "$node_pid"
memory_line blackbox_exporter "$blackbox_pid"
memory_line postgres_exporter "$pg_pid"
echo "ratio agent/node_exporter: rss $(ratio "$agent_rss" "$node_rss"), anon $(ratio "$(anon_kib "$agent_pid")" "$(anon_kib "$node_pid")"), pss $(ratio "$(pss_kib "$agent_pid")" "$(pss_kib "$node_pid")")   (target: rss <= 0.35)"

echo
echo "## /metrics throughput (requests/s, wrk -t2 -c8 -d5s)"
agent_plain=$(rps "http://127.0.0.1:$agent_port/metrics")
node_plain=$(rps "http://127.0.0.1:$node_port/metrics")
agent_gzip=$(rps "http://127.0.0.1:$agent_port/metrics" "Accept-Encoding: gzip")
node_gzip=$(rps "http://127.0.0.1:$node_port/metrics" "Accept-Encoding: gzip")
echo "plain: assets-agent $agent_plain, node_exporter $node_plain, ratio $(ratio "$agent_plain" "$node_plain")"
echo "gzip:  assets-agent $agent_gzip, node_exporter $node_gzip, ratio $(ratio "$agent_gzip" "$node_gzip")   (target >= 10)"
echo "agent RSS after load: $(rss_kib "$agent_pid") KiB"
kill "$agent_pid" "$node_pid" "$blackbox_pid" "$pg_pid" 2>/dev/null || true

# --- scrapes while targets hang, and cost against the number of targets --------------
hang_port_file="$work/hang.port"
python3 "$here/hang_server.py" --seconds 300 >"$hang_port_file" &
pids+=($!)
for _ in $(seq 50); do [ -s "$hang_port_file" ] && break; sleep 0.1; done
hang_port=$(head -1 "$hang_port_file")

run_with_targets() { # count -> one line of the table below
  local count=$1 config="$work/targets-$1.yml" port
  port=$(free_port)
  { echo "global: {interval: 3s, timeout: 2500ms, max_parallel: 8}"; echo "health:"
    for i in $(seq "$count"); do
      printf '  - {name: hang-%s, kind: http, url: "http://127.0.0.1:%s/", timeout: 1500ms}\n' "$i" "$hang_port"
    done; } >"$config"
  local pid
  pid=$(start "agent-$count" "$agent" --config.file "$config" --web.listen-address "127.0.0.1:$port")
  wait_http "http://127.0.0.1:$port/metrics"
  # Scrape hard through the first runs, while every target hangs.
  local latency
  latency=$(wrk -t1 -c4 -d4s --latency "http://127.0.0.1:$port/metrics" | awk '/ 99%/ {p99=$2} /Latency/ && !max {max=$4} END {print max, p99}')
  # Then, with no load, the CPU the collector spends over two runs.
  cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat"; }
  local before after body
  sleep 1; before=$(cpu); sleep 6; after=$(cpu)
  body=$(curl -s "http://127.0.0.1:$port/metrics")
  printf '%7s %12s %14s %10s %10s %12s\n' "$count" \
    "$(echo "$body" | awk '/^assets_collector_duration_seconds\{collector="health"\}/ {printf "%.3f", $2}')" \
    "$(awk -v a="$before" -v b="$after" -v n="$count" 'BEGIN {printf "%.1f", (b - a) / 2 / n * 1e6}')" \
    "${#body}" "$(rss_kib "$pid")" "$latency"
  kill "$pid" 2>/dev/null || true
}
echo
echo "## targets that hang (HTTP, 1.5 s timeout, runs every 3 s)"
echo "targets  run_seconds  cpu_us/target  body_bytes   rss_kib  scrape_max scrape_p99"
for n in 10 50 200 800; do run_with_targets "$n"; done
echo "(scrape target: under 50 ms while targets hang; cost: linear in targets)"
