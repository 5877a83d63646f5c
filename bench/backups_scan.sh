#!/usr/bin/env bash
# Times one backups collector run over a directory of many backup files (made in /tmp and
# removed afterwards) and reports the growth of resident memory, for 1,000 files and
# for FILES, so the two can be compared: growth must not depend on the file count.
# Usage: bench/backups_scan.sh [FILES] [BUILD_DIR]   (defaults: 100000, build/bench)
# Acceptance (issue 5): one run < 1 s for 100,000 files, RSS growth < 5 MiB.
set -euo pipefail

files=${1:-100000}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${2:-$source_dir/build/bench}

cmake -S "$source_dir" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" --target backups_bench -j2 >/dev/null
"$build_dir/tests/backups_bench" 1000 1
"$build_dir/tests/backups_bench" "$files" 6
