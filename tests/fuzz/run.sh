#!/usr/bin/env bash
# Runs every fuzzer for FUZZ_SECONDS (default 60) each, seeded from tests/testdata.
# Usage: tests/fuzz/run.sh BUILD_DIR
set -euo pipefail
build_dir=${1:-build/fuzz}
seconds=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
for fuzzer in "$build_dir"/tests/fuzz/*_fuzz; do
  name=$(basename "$fuzzer" _fuzz)
  corpus=$(mktemp -d)
  case "$name" in
    config) cp "$root"/tests/testdata/*.yml "$root"/deploy/assets-agent.yml "$corpus"/ ;;
    certificates) cp "$root"/tests/testdata/certificates/* "$corpus"/ ;;
    docker_api) cp "$root"/tests/testdata/docker/*.json* "$root"/tests/testdata/podman/*.json* "$corpus"/ ;;
  esac
  echo "== $name: ${seconds}s"
  "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=5 "$corpus"
  rm -rf "$corpus"
done
