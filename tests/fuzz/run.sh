#!/usr/bin/env bash
# Runs every fuzzer for FUZZ_SECONDS (default 60) each. New inputs go to a temp corpus;
# the project's fixtures are read as seeds. Usage: tests/fuzz/run.sh BUILD_DIR
set -euo pipefail
build_dir=${1:-build/fuzz}
seconds=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
data=$root/tests/testdata
findings=$build_dir/findings
mkdir -p "$findings"
failed=0
for fuzzer in "$build_dir"/tests/fuzz/*_fuzz; do
  name=$(basename "$fuzzer" _fuzz)
  case "$name" in
    config) seeds=("$data" "$root/deploy") ;;
    certificates) seeds=("$data/certificates") ;;
    docker_api) seeds=("$data/docker" "$data/podman") ;;
    backups_verify) seeds=("$data/backups" "$data/fuzz/backups_verify") ;;
    backups_name_time) seeds=("$data/fuzz/backups_name_time") ;;
    backups_restore_status) seeds=("$data/fuzz/backups_restore_status") ;;
    web_accept_encoding) seeds=("$data/fuzz/web_accept_encoding") ;;
    web_config) seeds=("$data/fuzz/web_config") ;;
    tcp_expect) seeds=("$data/fuzz/tcp_expect") ;;
    dns_answer) seeds=("$data/fuzz/dns_answer") ;;
    host_facts) seeds=("$data/fuzz/host_facts" "$data/host/facts") ;;
    *) seeds=() ;;
  esac
  # libFuzzer exits on a seed folder that is not there; keep the ones that are.
  existing=()
  for seed in "${seeds[@]}"; do [ -d "$seed" ] && existing+=("$seed"); done
  seeds=("${existing[@]}")
  corpus=$(mktemp -d)
  log="$corpus.log"
  # A finding (crash, leak, timeout, trap) exits non-zero; its input goes to $findings.
  if "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=5 -artifact_prefix="$findings/$name-" \
      "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    echo "fuzz $name: ${seconds}s, $(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 || echo 'no summary'), no finding"
  else
    tail -n 60 "$log"
    echo "fuzz $name: FINDING, input kept in $findings" >&2
    failed=1
  fi
  rm -rf "$corpus" "$log"
done
exit "$failed"
