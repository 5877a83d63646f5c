#!/usr/bin/env bash
# Measures the CPU time of the certificates collector over many certificate files:
# a cold run (empty parse cache; the files are in the page cache, having just been
# written) and three warm runs (files unchanged: stat, cache hit, metrics).
# Usage: bench/certificates_scan.sh [FILES] [BUILD_DIR]   (defaults: 10000, build/bench)
# Acceptance (issue 6): cold < 1 s of CPU for 10,000 files, warm far less.
set -euo pipefail

files=${1:-10000}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${2:-$source_dir/build/bench}

cmake -S "$source_dir" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" --target certificates_bench -j2 >/dev/null
"$build_dir/tests/certificates_bench" "$files"
