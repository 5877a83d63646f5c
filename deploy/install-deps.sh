#!/usr/bin/env bash
# Installs what building (and, with --test, testing and benchmarking) assets-agent needs
# from Debian 12 packages. Idempotent: installs only what is missing; sudo only when not root.
set -euo pipefail

build_packages=(
  cmake g++ make ninja-build pkg-config git
  prometheus-cpp-dev libcivetweb-dev libyaml-cpp-dev libcurl4-openssl-dev libpq-dev
  libssl-dev nlohmann-json3-dev zlib1g-dev libre2-dev libcli11-dev libsystemd-dev libc-ares-dev
  libgtest-dev libgmock-dev
)
test_packages=(
  curl openssl ca-certificates procps iproute2
  postgresql postgresql-client
  podman runc busybox-static docker.io
  prometheus prometheus-alertmanager
  nginx docker-compose wrk systemd python3
  docker.io debootstrap python3-yaml
  nodejs dnsmasq-base
  ansible ansible-lint
)
fuzz_packages=(clang-14 libclang-rt-14-dev)
# debian/ and the package's tests (a debootstrap'ed Debian 12 in Podman).
package_packages=(dpkg-dev debhelper help2man lintian man-db)
package_test_packages=(debootstrap)
bench_packages=(
  prometheus-node-exporter prometheus-blackbox-exporter prometheus-postgres-exporter
  libnginx-mod-stream python3-matplotlib
)

# npm: Debian's package, unless an npm is already there. A Node.js from elsewhere that
# bundles its own (NodeSource's nodejs Provides and Conflicts npm) would otherwise be
# replaced by Debian's older one.
command -v npm >/dev/null || test_packages+=(npm)
# kubectl, for its built-in kustomize: Debian's kubernetes-client, unless a kubectl is
# there (one from Kubernetes' own packages owns /usr/bin/kubectl as well).
command -v kubectl >/dev/null || test_packages+=(kubernetes-client)

packages=("${build_packages[@]}")
npm_test_modules=false
for arg in "$@"; do
  case "$arg" in
    --test)
      packages+=("${test_packages[@]}" "${package_packages[@]}" "${package_test_packages[@]}")
      npm_test_modules=true
      ;;
    --package) packages+=("${package_packages[@]}") ;;
    --bench) packages+=("${test_packages[@]}" "${bench_packages[@]}") ;;
    --fuzz) packages+=("${fuzz_packages[@]}") ;;
    *) echo "usage: $0 [--test] [--bench] [--fuzz] [--package]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # Services that packages start on install (nginx, postgresql, prometheus, docker...) are not used:
  # tests start their own instances on free loopback ports or temp sockets.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The npm modules of the Kubernetes manifests' schema test (tests/kubernetes/validate.mjs),
# at the versions of tests/kubernetes/package-lock.json, in a cache outside the clone:
# `npm ci` again only when package.json or the lock changed (or a previous run did not end).
if $npm_test_modules; then
  lock_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/kubernetes"
  npm_dir="${ASSETS_TEST_CACHE:-/var/cache/assets-agent-tests}/npm"
  if ! { cmp -s "$lock_dir/package.json" "$npm_dir/package.json" \
         && cmp -s "$lock_dir/package-lock.json" "$npm_dir/package-lock.json" \
         && [ -f "$npm_dir/node_modules/.package-lock.json" ]; }; then
    echo "installing npm modules of tests/kubernetes into $npm_dir" >&2
    "${sudo[@]}" mkdir -p "$npm_dir"
    "${sudo[@]}" rm -f "$npm_dir/node_modules/.package-lock.json"
    "${sudo[@]}" cp "$lock_dir/package.json" "$lock_dir/package-lock.json" "$npm_dir/"
    "${sudo[@]}" npm ci --prefix "$npm_dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  fi
fi
