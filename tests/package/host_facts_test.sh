#!/usr/bin/env bash
# The host facts helper for real: the package of `make package` on a fresh Debian 12 under
# systemd (the base of package_test.sh) with ufw, fail2ban, openssh-server and
# unattended-upgrades from the Debian mirror. The packaged timer is active; its service,
# started as the timer starts it (root, under the unit's sandbox), writes the facts of an
# exposed host and then of a hardened one; the agent (unprivileged, the shipped config)
# exports them. Then purge leaves no facts behind.
#   tests/package/host_facts_test.sh PACKAGE_DIR
# Exits 77 (skipped) without Podman or the package, unless CI=true, where that fails.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
packages=${1:?usage: host_facts_test.sh PACKAGE_DIR}
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
deb="assets-agent_${version}_$(dpkg --print-architecture).deb"
cache=${ASSETS_TEST_CACHE:-/var/cache/assets-agent-tests}

step() { printf '[host-facts] %s\n' "$*"; }
fail() { printf '[host-facts] FAIL: %s\n' "$*" >&2; exit 1; }
missing() {
  if [ "${CI:-}" = true ]; then fail "$*"; fi
  printf '[host-facts] SKIP: %s\n' "$*"; exit 77
}

command -v podman >/dev/null || missing "podman is not installed"
[ -f "$packages/$deb" ] || missing "$packages/$deb is missing: run \`make package\` first"
image=$("$src/tests/tools/debian-base-image.sh" systemd) || missing "no Debian 12 base image"

podman=(podman --runtime runc --cgroup-manager=cgroupfs)
container="assets-host-facts-test-$$"
work=$(mktemp -d)
chmod 0755 "$work"
cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then
    echo "--- the helper's journal in the container:" >&2
    "${podman[@]}" exec "$container" journalctl -u assets-agent-host-facts --no-pager -n 30 >&2 2>/dev/null || true
    "${podman[@]}" exec "$container" cat /var/lib/assets-agent-host-facts/facts.json >&2 2>/dev/null || true
  fi
  "${podman[@]}" rm -f -t 0 "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
cp "$packages/$deb" "$work/"
chmod 0644 "$work/$deb"

mkdir -p "$cache/apt-archives/partial"
step "starting $image with systemd"
# NET_ADMIN: ufw's netfilter rules, in the container's own network namespace.
"${podman[@]}" run -d --name "$container" --systemd=always --cap-add NET_ADMIN \
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

step "apt-get install ufw fail2ban openssh-server unattended-upgrades python3-systemd curl ./$deb"
inside apt-get update -qq
# python3-systemd: fail2ban's journal backend (a Recommends, which this image does not install).
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ufw fail2ban openssh-server \
  unattended-upgrades python3-systemd curl "/test/$deb" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "apt-get install"; }

step "the packaged timer is active and has run the helper"
[ "$(inside systemctl is-active assets-agent-host-facts.timer)" = active ] || fail "the timer is not active"
[ "$(inside systemctl is-enabled assets-agent-host-facts.timer)" = enabled ] || fail "the timer is not enabled"
# OnActiveSec=30s plus RandomizedDelaySec=30s after the install started the timer.
for _ in $(seq 1 120); do inside test -s /var/lib/assets-agent-host-facts/facts.json && break; sleep 1; done
inside test -s /var/lib/assets-agent-host-facts/facts.json || fail "the timer's first run wrote no facts"
[ "$(inside stat -c '%U %a' /var/lib/assets-agent-host-facts /var/lib/assets-agent-host-facts/facts.json | tr '\n' ' ')" = "root 755 root 644 " ] ||
  fail "owner and modes: $(inside stat -c '%n %U %a' /var/lib/assets-agent-host-facts /var/lib/assets-agent-host-facts/facts.json)"

# One run of the service as the timer starts it, and the facts it wrote.
gather() {
  inside systemctl start assets-agent-host-facts.service || fail "the helper's service failed"
  inside cat /var/lib/assets-agent-host-facts/facts.json >"$work/facts.json"
}
fact() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2], {}, {"f": d})))' "$work/facts.json" "$1"; }
expect_fact() { # python expression over f, expected JSON
  local got; got=$(fact "$1")
  [ "$got" = "$2" ] || fail "$1 is $got, not $2 (facts: $(cat "$work/facts.json"))"
}
# The agent's next run of the host collector (global interval of the shipped config).
metric() { inside curl -fsS http://127.0.0.1:9842/metrics | awk -v name="$1" '$1 == name { print $2 }'; }
expect_metric() { # series value
  local got=""
  for _ in $(seq 1 90); do got=$(metric "$1"); [ "$got" = "$2" ] && return 0; sleep 1; done
  fail "$1 is '${got}', not $2"
}

step "an exposed host: ufw off, fail2ban stopped, password and root login on, no unattended upgrades"
inside sh -c 'printf "PasswordAuthentication yes\nPermitRootLogin yes\n" >/etc/ssh/sshd_config.d/10-exposed.conf'
inside sh -c 'printf "APT::Periodic::Unattended-Upgrade \"0\";\n" >/etc/apt/apt.conf.d/20auto-upgrades'
inside systemctl stop fail2ban
gather
expect_fact 'f["version"]' 1
expect_fact 'f["ufw"]' '{"installed": true, "answered": true, "active": false}'
expect_fact 'f["fail2ban"]' '{"installed": true, "answered": true, "running": false}'
expect_fact 'f["sshd"]' '{"installed": true, "answered": true, "password_authentication": true, "permit_root_login": "yes"}'
expect_fact 'f["unattended_upgrades"]' '{"installed": true, "answered": true, "enabled": false}'
expect_fact 'f["apt"]["answered"]' true
expect_fact 'abs(f["collected_at"] - __import__("time").time()) < 120' true
expect_metric assets_host_facts_up 1
expect_metric assets_host_firewall_active 0
expect_metric assets_host_fail2ban_running 0
expect_metric assets_host_ssh_password_authentication 1
expect_metric 'assets_host_ssh_permit_root_login{mode="yes"}' 1
expect_metric assets_host_unattended_upgrades_enabled 0

step "a hardened host: ufw deny incoming, fail2ban with a ban, keys only, unattended upgrades"
inside rm /etc/ssh/sshd_config.d/10-exposed.conf
inside sh -c 'printf "PasswordAuthentication no\n" >/etc/ssh/sshd_config.d/10-assets.conf'
inside sh -c 'printf "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n" >/etc/apt/apt.conf.d/20auto-upgrades'
# Debian 12's sshd jail reads /var/log/auth.log, which a host without rsyslog lacks.
inside sh -c 'printf "[sshd]\nbackend = systemd\n" >/etc/fail2ban/jail.d/sshd.local'
inside sh -c 'ufw default deny incoming && ufw allow OpenSSH && ufw --force enable' >/dev/null || fail "ufw enable"
inside systemctl restart fail2ban
for _ in $(seq 1 30); do inside fail2ban-client ping >/dev/null 2>&1 && break; sleep 1; done
inside fail2ban-client set sshd banip 192.0.2.7 >/dev/null || fail "fail2ban-client banip"
gather
expect_fact 'f["ufw"]' '{"installed": true, "answered": true, "active": true, "default_incoming": "deny"}'
expect_fact 'f["fail2ban"]' '{"installed": true, "answered": true, "running": true, "jails": {"sshd": 1}}'
expect_fact 'f["sshd"]' '{"installed": true, "answered": true, "password_authentication": false, "permit_root_login": "prohibit-password"}'
expect_fact 'f["unattended_upgrades"]' '{"installed": true, "answered": true, "enabled": true}'
expect_metric assets_host_firewall_active 1
expect_metric 'assets_host_firewall_default_incoming_policy{policy="deny"}' 1
expect_metric 'assets_host_fail2ban_banned{jail="sshd"}' 1
expect_metric assets_host_ssh_password_authentication 0
expect_metric 'assets_host_ssh_permit_root_login{mode="prohibit-password"}' 1
expect_metric assets_host_unattended_upgrades_enabled 1
pending=$(fact 'f["apt"]["security_updates"]')
step "apt: $pending security updates pending in this image (apt-get -s dist-upgrade)"
expect_metric assets_host_security_updates_pending "$pending"

step "apt-get purge: the timer and the facts are gone"
inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq assets-agent >/dev/null 2>&1 || fail "apt-get purge"
inside test ! -e /var/lib/assets-agent-host-facts || fail "/var/lib/assets-agent-host-facts is left after purge"
[ "$(inside systemctl is-active assets-agent-host-facts.timer || true)" != active ] || fail "the timer is active after purge"
step "passed"
