#!/usr/bin/env bash
# Builds a Debian package of assets-agent from a release build:
#   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
#   cmake --build build/release
#   deploy/packaging/build-deb.sh build/release [OUTPUT_DIR]
# The package holds the binary, the hardened systemd unit (enabled and started on install,
# restarted on upgrade) and deploy/assets-agent.yml as the conffile
# /etc/assets-agent/assets-agent.yml.
set -euo pipefail

build=${1:?usage: build-deb.sh BUILD_DIR [OUTPUT_DIR]}
out=${2:-.}
src=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || { echo "$build is not a configured CMake build directory" >&2; exit 1; }
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
DESTDIR="$stage" cmake --install "$build" --prefix /usr --strip
install -D -m 0644 "$src/deploy/systemd/assets-agent.service" "$stage/lib/systemd/system/assets-agent.service"
install -D -m 0644 "$src/deploy/assets-agent.yml" "$stage/etc/assets-agent/assets-agent.yml"
install -D -m 0644 "$src/docs/configuration.md" "$stage/usr/share/doc/assets-agent/configuration.md"
install -D -m 0644 "$src/docs/metrics.md" "$stage/usr/share/doc/assets-agent/metrics.md"
install -D -m 0644 "$src/docs/runbooks.md" "$stage/usr/share/doc/assets-agent/runbooks.md"

mkdir -p "$stage/DEBIAN"
echo /etc/assets-agent/assets-agent.yml >"$stage/DEBIAN/conffiles"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: assets-agent
Version: $version
Architecture: $arch
Maintainer: Assets operations <ops@localhost>
Section: net
Priority: optional
Depends: libc6, libstdc++6, libgcc-s1, libprometheus-cpp-core1.0, libcivetweb1, libyaml-cpp0.7, libcurl4, libpq5, libssl3, libcrypt1, libre2-9, zlib1g, ca-certificates
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: Prometheus exporter for an Assets host
 Health checks (HTTP, TCP, PostgreSQL), containers, backups and certificates
 of the Assets stack, exposed for Prometheus on port 9842.
CONTROL
cat >"$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable assets-agent.service
  systemctl restart assets-agent.service
fi
POSTINST
cat >"$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable --now assets-agent.service
fi
PRERM
cat >"$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

mkdir -p "$out"
dpkg-deb --root-owner-group --build "$stage" "$out/assets-agent_${version}_${arch}.deb"
