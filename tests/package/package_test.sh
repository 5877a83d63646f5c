#!/usr/bin/env bash
# The Debian package on a fresh Debian 12 host: a container of the debootstrap'ed base
# (tests/tools/debian-base-image.sh) with systemd as PID 1 and no development package.
#   tests/package/package_test.sh PACKAGE_DIR     (ctest runs it after `make package`)
# Installs the .deb with apt (dependencies from the Debian mirror), then checks what an
# operator would: --version, the manual page, config check on the shipped conffile, the
# service active under systemd (Type=notify) without a docker group, /metrics (promtool
# check metrics), the journal's priorities, a reload, the TLS endpoint, an upgrade that
# keeps a changed conffile, and a purge that leaves nothing behind.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
packages=$(cd "${1:?usage: package_test.sh PACKAGE_DIR}" && pwd)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb="assets-agent_${version}_${arch}.deb"
cache=${ASSETS_TEST_CACHE:-/var/cache/assets-agent-tests}

step() { printf '[package] %s\n' "$*"; }
fail() { printf '[package] FAIL: %s\n' "$*" >&2; exit 1; }

[ -f "$packages/$deb" ] || fail "$packages/$deb is missing: run \`make package\` first"
image=$("$src/tests/tools/debian-base-image.sh" systemd) || fail "no Debian 12 base image"

podman=(podman --runtime runc --cgroup-manager=cgroupfs)
container="assets-package-test-$$"
work=$(mktemp -d)
chmod 0755 "$work"
cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then
    echo "--- the agent's journal in the container:" >&2
    "${podman[@]}" exec "$container" journalctl -u assets-agent --no-pager -n 40 >&2 2>/dev/null || true
  fi
  "${podman[@]}" rm -f -t 0 "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

# The upgrade: the same build as a later version whose shipped conffile changed, so dpkg
# must choose between it and the operator's edit (it keeps the edit).
step "making the upgrade package"
dpkg-deb -R "$packages/$deb" "$work/upgrade"
sed -i "s/^Version: .*/Version: ${version}+upgrade1/" "$work/upgrade/DEBIAN/control"
printf '# shipped by the upgrade\n' >>"$work/upgrade/etc/assets-agent/assets-agent.yml"
dpkg-deb --root-owner-group -b "$work/upgrade" "$work/assets-agent_${version}+upgrade1_${arch}.deb" >/dev/null
cp "$packages/$deb" "$work/"

step "the shipped rules: valid, and their runbook_url absolute"
dpkg-deb -x "$packages/$deb" "$work/contents"
promtool check rules "$work/contents/usr/share/assets-agent/alerts/"*.yml >/dev/null || fail "promtool check rules"
relative=$(grep -h 'runbook_url:' "$work/contents/usr/share/assets-agent/alerts/"*.yml |
  grep -v 'runbook_url: "\(file\|https\?\)://' || true)
[ -z "$relative" ] || fail "runbook_url not absolute: $relative"
[ -f "$work/contents/usr/share/doc/assets-agent/runbooks.md" ] || fail "runbook_url points at a runbooks.md not shipped"
rm -rf "$work/contents"

# TLS for the endpoint: a CA and a certificate for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout "$work/ca.key" \
  -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$work/agent.key" -out "$work/agent.csr" 2>/dev/null
openssl x509 -req -in "$work/agent.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$work/agent.pem" 2>/dev/null
chmod 0644 "$work"/*

mkdir -p "$cache/apt-archives/partial"
step "starting $image with systemd"
"${podman[@]}" run -d --name "$container" --systemd=always \
  --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 \
  -v "$work:/test:ro" -v "$cache/apt-archives:/var/cache/apt/archives" \
  "$image" /sbin/init >/dev/null
inside() { "${podman[@]}" exec "$container" "$@"; }
for _ in $(seq 1 60); do
  state=$(inside systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 1
done
case "$state" in running|degraded) ;; *) fail "systemd in the container did not come up: $state" ;; esac

step "apt-get install ./$deb"
inside apt-get update -qq
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "/test/$deb" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "apt-get install"; }
if [ "$(inside dpkg-query -W -f='${Status}' libssl-dev 2>/dev/null || true)" = "install ok installed" ]; then
  fail "libssl-dev is installed: the TLS endpoint would not be tested without it"
fi

step "assets-agent --version, man assets-agent"
inside assets-agent --version | grep -q "^$version (revision " || fail "--version: $(inside assets-agent --version)"
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq man-db >/dev/null 2>&1 || fail "installing man-db"
inside man -P cat assets-agent 2>/dev/null | grep -q -- "--config.file" || fail "man assets-agent shows no --config.file"
inside man -P cat assets-agent 2>/dev/null | grep -q "EXIT STATUS" || fail "man assets-agent has no EXIT STATUS"

step "config check on the shipped conffile"
inside assets-agent config check --config.file /etc/assets-agent/assets-agent.yml ||
  fail "the shipped conffile does not pass config check on a fresh host"

step "the service: active under systemd, its user, no docker group"
for _ in $(seq 1 30); do [ "$(inside systemctl is-active assets-agent || true)" = active ] && break; sleep 1; done
[ "$(inside systemctl is-active assets-agent || true)" = active ] || fail "assets-agent.service is not active"
inside getent group docker >/dev/null && fail "the container has a docker group; this step needs a host without"
inside systemctl show -p StatusText --value assets-agent | grep -q "serving /metrics on :9842" ||
  fail "no status text: $(inside systemctl show -p StatusText --value assets-agent)"
[ "$(inside systemctl show -p User --value assets-agent)" = assets-agent ] || fail "the unit's user is not assets-agent"
pid=$(inside systemctl show -p MainPID --value assets-agent)
[ "$(inside stat -c %U "/proc/$pid")" = assets-agent ] || fail "the agent does not run as assets-agent"

step "scraping /metrics"
for _ in $(seq 1 30); do inside curl -fs -o /dev/null http://127.0.0.1:9842/-/ready && break; sleep 1; done
inside curl -fs -o /dev/null http://127.0.0.1:9842/-/ready || fail "not ready within 30 s"
inside curl -fsS http://127.0.0.1:9842/metrics >"$work/metrics" || fail "GET /metrics"
grep -q "^assets_agent_build_info{.*version=\"$version\"" "$work/metrics" || fail "no build_info for $version"
grep -q '^assets_container_engine_failure{reason="not_found"} 1' "$work/metrics" ||
  fail "the containers collector should report the missing socket: $(grep container_engine "$work/metrics")"
promtool check metrics <"$work/metrics" || fail "promtool check metrics"

step "the journal: warnings at priority warning"
# Read whole before grep: under pipefail an early-exiting grep -q can fail the pipe.
warnings=$(inside journalctl -u assets-agent -p warning --no-pager -o cat)
grep -q 'msg="target down"' <<<"$warnings" || fail "journalctl -p warning shows no target down"
if grep -q 'level=info' <<<"$warnings"; then fail "info lines reach the journal at priority warning or above"; fi

step "systemctl reload"
# Asynchronous on systemd 252: the job ends when kill has sent SIGHUP, so wait for the status.
inside systemctl reload assets-agent || fail "systemctl reload"
for _ in $(seq 1 50); do
  inside systemctl show -p StatusText --value assets-agent | grep -q "configuration reloaded" && break
  sleep 0.2
done
inside systemctl show -p StatusText --value assets-agent | grep -q "configuration reloaded" ||
  fail "status after reload: $(inside systemctl show -p StatusText --value assets-agent)"
[ "$(inside systemctl is-active assets-agent)" = active ] || fail "not active after a reload"

step "the watchdog: pinged, so a short WatchdogSec= never fires"
inside mkdir -p /run/systemd/system/assets-agent.service.d
inside sh -c 'printf "[Service]\nWatchdogSec=2s\n" >/run/systemd/system/assets-agent.service.d/watchdog.conf'
inside systemctl daemon-reload
inside systemctl restart assets-agent || fail "restart with WatchdogSec=2s"
pid=$(inside systemctl show -p MainPID --value assets-agent)
sleep 7  # past three periods: an agent that did not ping would have been killed
[ "$(inside systemctl show -p MainPID --value assets-agent)" = "$pid" ] || fail "the watchdog restarted the agent"
[ "$(inside systemctl show -p NRestarts --value assets-agent)" = 0 ] || fail "the watchdog restarted the agent"
[ "$(inside systemctl show -p WatchdogUSec --value assets-agent)" = 2s ] || fail "the drop-in did not apply"
[ "$(inside systemctl is-active assets-agent)" = active ] || fail "not active with WatchdogSec=2s"
inside rm -r /run/systemd/system/assets-agent.service.d
inside systemctl daemon-reload

step "the TLS endpoint, with only the runtime libraries"
inside install -m 0644 /test/agent.pem /test/agent.key /etc/assets-agent/
inside chgrp assets-agent /etc/assets-agent/agent.key
inside chmod 0640 /etc/assets-agent/agent.key
inside sh -c 'printf "tls_server_config:\n  cert_file: /etc/assets-agent/agent.pem\n  key_file: /etc/assets-agent/agent.key\n" >/etc/assets-agent/web.yml'
# A listen address in ARGS too: the unit names none of its own (both would be bound).
inside sed -i 's|^ARGS=.*|ARGS="--web.listen-address=127.0.0.1:9842 --web.config.file=/etc/assets-agent/web.yml"|' \
  /etc/default/assets-agent
inside systemctl restart assets-agent || fail "restart with the web config"
inside curl -fsS --cacert /test/ca.pem -o /dev/null https://127.0.0.1:9842/metrics || fail "GET https://.../metrics"

step "upgrade to ${version}+upgrade1, the conffile changed on both sides"
inside sh -c 'printf "# the operator s edit\n" >>/etc/assets-agent/assets-agent.yml'
before=$(inside systemctl show -p MainPID --value assets-agent)
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confdef \
  -o Dpkg::Options::=--force-confold "/test/assets-agent_${version}+upgrade1_${arch}.deb" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "the upgrade"; }
[ "$(inside dpkg-query -W -f='${Version}' assets-agent)" = "${version}+upgrade1" ] || fail "not upgraded"
inside grep -q "the operator s edit" /etc/assets-agent/assets-agent.yml || fail "the upgrade replaced the operator's conffile"
inside grep -q "shipped by the upgrade" /etc/assets-agent/assets-agent.yml.dpkg-dist || fail "no .dpkg-dist beside it"
inside grep -q "web.config.file" /etc/default/assets-agent || fail "the upgrade replaced /etc/default/assets-agent"
for _ in $(seq 1 30); do [ "$(inside systemctl is-active assets-agent || true)" = active ] && break; sleep 1; done
[ "$(inside systemctl is-active assets-agent)" = active ] || fail "not active after the upgrade"
[ "$(inside systemctl show -p MainPID --value assets-agent)" != "$before" ] || fail "the upgrade did not restart the agent"
inside curl -fsS --cacert /test/ca.pem -o /dev/null https://127.0.0.1:9842/metrics || fail "/metrics after the upgrade"

step "apt-get purge: nothing left"
inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq assets-agent >/dev/null 2>&1 || fail "apt-get purge"
inside sh -c 'rm -f /etc/assets-agent/agent.pem /etc/assets-agent/agent.key /etc/assets-agent/web.yml; rmdir /etc/assets-agent 2>/dev/null || true'
# Not the package's: the journal, apt's downloads, and the page `man` formatted above.
left=$(inside sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /test -o -path /var/cache/apt \
  -o -path /var/cache/man -o -path /var/log/journal \) -prune -o -name "*assets-agent*" -print' || true)
[ -z "$left" ] || fail "left after purge: $left"
[ "$(inside systemctl is-active assets-agent || true)" != active ] || fail "still running after purge"
step "passed"
