#!/usr/bin/env bash
# Prints the name of a local Podman image for the deploy tests, built on the local Debian 12
# base (tests/tools/debian-base-image.sh) and cached in Podman's store:
#   tests/tools/test-image.sh agent|prometheus|alertmanager
# agent: deploy/Dockerfile, both stages, from this source tree. The tag is a hash of the
# base image and of the tree's files as they are on disk (tracked and untracked, less what
# the build does not read: tests/ with BUILD_TESTING=OFF, docs, dashboards, rules); an
# unchanged tree reuses its image, a changed one is built (minutes). A reused image's
# --version may name an older commit with the same sources.
# prometheus, alertmanager: stand-ins for compose.yml's prom/* images made from Debian's
# packages (tests/deploy/stack-images.Dockerfile), tagged by a hash of that file and the base.
# Images of older hashes are removed once a new one is built; the build-dependency stage
# stays, so a new source tree only recompiles. CMAKE_BUILD_PARALLEL_LEVEL (default 1, one
# core as ctest counts a test) is the compile's parallelism. Safe to run in parallel (flock).
set -euo pipefail

kind=${1:-}
case "$kind" in agent|prometheus|alertmanager) ;; *) echo "usage: $0 agent|prometheus|alertmanager" >&2; exit 2 ;; esac
src=$(cd "$(dirname "$0")/../.." && pwd)
cache=${ASSETS_TEST_CACHE:-/var/cache/assets-agent-tests}
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
# Every image and intermediate layer these builds make carries it, so that cleaning up
# touches nothing else in the store.
label=io.assets-agent.test-image=$kind

base=$("$src/tests/tools/debian-base-image.sh" minbase)
base_id=$("${podman[@]}" image inspect --format '{{.Id}}' "$base")

# A file the list leaves out costs a rebuild, never a stale image.
not_built=(':!tests' ':!docs' ':!bench' ':!grafana' ':!alerts' ':!*.md')
tree_hash() {
  cd "$src"
  # As on disk, uncommitted edits and new files included; a tracked file deleted is absent.
  git ls-files -z --cached --others --exclude-standard -- "${not_built[@]}" | sort -zu >"$list"
  { xargs -0 -r stat -c '%a %n' -- <"$list" 2>/dev/null || true; }  # modes: install-deps.sh runs as ./
  { xargs -0 -r sha256sum -- <"$list" 2>/dev/null || true; }
}

if [ "$kind" = agent ]; then
  list=$(mktemp)
  trap 'rm -f "$list"' EXIT
  dockerfile=deploy/Dockerfile
  key=$({ echo "$base_id"; tree_hash; } | sha256sum | cut -c1-16)
  repository=localhost/assets-test/assets-agent
else
  dockerfile=tests/deploy/stack-images.Dockerfile
  key=$({ echo "$base_id"; cat "$src/$dockerfile"; } | sha256sum | cut -c1-16)
  repository=localhost/assets-test/$kind
fi
image=$repository:$key

mkdir -p "$cache"
exec 9>"$cache/test-image.lock"
flock 9

build() {
  # --format docker keeps HEALTHCHECK (OCI images have none); --network host for apt-get
  # from the Debian mirror; --pull never: the base is local, no registry is asked.
  nice "${podman[@]}" build --jobs 1 --format docker --network host --pull=never --layers \
    --label "$label" --build-arg BASE_IMAGE="$base" -f "$src/$dockerfile" "$@" "$src" >&2
}

if ! "${podman[@]}" image exists "$image"; then
  echo "test-image.sh: building $image from $dockerfile" >&2
  if [ "$kind" = agent ]; then
    # Named, so that removing the old source's layers below keeps the dependencies'.
    build --target build-deps -t localhost/assets-test/assets-agent-build-deps:latest
    build --build-arg CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-1}" -t "$image"
  else
    build --target "$kind" -t "$image"
  fi
  for old in $("${podman[@]}" images --format '{{.Repository}}:{{.Tag}}' --filter reference="$repository"); do
    [ "$old" = "$image" ] || "${podman[@]}" rmi "$old" >/dev/null
  done
  # What is left of older builds: untagged leaves (a build stage's last layer), each with
  # the untagged layers under it. Layers that a tagged image still uses are refused.
  for leftover in $("${podman[@]}" images -q --filter dangling=true --filter label="$label"); do
    "${podman[@]}" rmi "$leftover" >/dev/null 2>&1 || true
  done
fi
echo "$image"
