#!/usr/bin/env bash
# Runs every fuzzer for FUZZ_SECONDS (default 60) each. New inputs go to a temp corpus;
# the project's fixtures are read as seeds. Usage: tests/fuzz/run.sh BUILD_DIR
set -euo pipefail
build_dir=${1:-build/fuzz}
seconds=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
data=$root/tests/testdata
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
    tcp_expect) seeds=("$data/fuzz/tcp_expect") ;;
    *) seeds=() ;;
  esac
  corpus=$(mktemp -d)
  echo "== $name: ${seconds}s"
  "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=5 "$corpus" "${seeds[@]}"
  rm -rf "$corpus"
done
