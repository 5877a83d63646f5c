#!/usr/bin/env bash
# Prints the name of a local Podman image of a minimal Debian 12, made without a registry:
#   tests/tools/debian-base-image.sh [minbase|systemd]
# minbase: `debootstrap --variant=minbase bookworm` from the Debian mirror, the base of the
# image build (deploy/Dockerfile) and of a clean host to install the .deb into.
# systemd: the same with systemd as PID 1, for the package's service under systemd.
# The root file systems are cached as tarballs in ASSETS_TEST_CACHE
# (default /var/cache/assets-agent-tests) so that every later run on the machine, a fresh
# clone's included, reuses them; the first debootstrap takes minutes. Safe to run in
# parallel (one flock).
set -euo pipefail

flavour=${1:-minbase}
case "$flavour" in minbase|systemd) ;; *) echo "usage: $0 [minbase|systemd]" >&2; exit 2 ;; esac
cache=${ASSETS_TEST_CACHE:-/var/cache/assets-agent-tests}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
image="localhost/assets-test/debian:12-$flavour"
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9

tarball="$cache/debian-12-$flavour.tar"
if [ ! -s "$tarball" ]; then
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  if [ "$flavour" = minbase ]; then
    debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/log" 2>&1 ||
      { tail -20 "$work/log" >&2; exit 1; }
    # The point releases and security updates, as on a real host.
    cat >"$work/root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
    # A container image's apt: no recommends, no caches left behind (as debian:slim does).
    printf 'APT::Install-Recommends "false";\n' >"$work/root/etc/apt/apt.conf.d/90assets-no-recommends"
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  else
    base="$cache/debian-12-minbase.tar"
    [ -s "$base" ] || { flock -u 9; "$0" minbase >/dev/null; flock 9; }
    mkdir "$work/root"
    tar -C "$work/root" -xf "$base"
    cp /etc/resolv.conf "$work/root/etc/resolv.conf"
    chroot "$work/root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq systemd-sysv dbus ca-certificates curl >/dev/null && apt-get clean' \
      >"$work/log" 2>&1 || { tail -20 "$work/log" >&2; exit 1; }
    rm -rf "$work/root/var/lib/apt/lists/"*
    : >"$work/root/etc/resolv.conf"
  fi
  tar -C "$work/root" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
fi

if ! "${podman[@]}" image exists "$image"; then
  "${podman[@]}" import -q "$tarball" "$image" >/dev/null
fi
echo "$image"
