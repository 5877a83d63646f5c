#!/bin/sh
# assets-agent host facts: what UFW, fail2ban, sshd, unattended-upgrades and apt say of this
# host's protections, as one small JSON file (schema version 1, deploy/host-facts/README.md)
# that the unprivileged agent's `host` collector reads. Run as root (those tools answer only
# root) by assets-agent-host-facts.timer every 15 minutes.
#   host-facts [--output FILE]      (default /var/lib/assets-agent-host-facts/facts.json)
# Read-only towards the system: it runs status commands and `apt-get -s`, never
# `apt-get update` (apt-daily.timer does that). Each command has a time limit and a size
# limit on what is read, and a tool that is missing, fails or hangs makes its section say
# so ("answered": false), never the whole run fail.
# For tests: HOST_FACTS_NOW fixes the time, HOST_FACTS_TOOL_TIMEOUT the per-command limit.
set -eu

output=/var/lib/assets-agent-host-facts/facts.json
while [ $# -gt 0 ]; do
  case "$1" in
    --output) output=${2:?--output needs a file}; shift 2 ;;
    --output=*) output=${1#--output=}; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "host-facts: unknown argument $1" >&2; exit 2 ;;
  esac
done

now=${HOST_FACTS_NOW:-$(date +%s)}
limit=${HOST_FACTS_TOOL_TIMEOUT:-20}
max_bytes=65536

# A command's output, at most max_bytes of it; true only when the command exited 0 in
# time. `timeout` ends one that hangs, -k one that ignores TERM.
run_ok() {
  status_file=$(mktemp)
  { timeout -k 2 "$limit" "$@" 2>/dev/null; echo $? >"$status_file"; } | head -c "$max_bytes"
  code=$(cat "$status_file"); rm -f "$status_file"
  return "${code:-1}"
}
have() { command -v "$1" >/dev/null 2>&1; }
bool() { if [ "$1" = 1 ]; then printf true; else printf false; fi; }

# --- ufw ----------------------------------------------------------------------------------
# `ufw status verbose`: "Status: active" and "Default: deny (incoming), allow (outgoing), ...".
ufw_json() {
  if ! have ufw; then printf '{"installed": false, "answered": false}'; return; fi
  if ! text=$(run_ok ufw status verbose); then printf '{"installed": true, "answered": false}'; return; fi
  status=$(printf '%s\n' "$text" | sed -n 's/^Status: *\([a-z]*\).*/\1/p' | head -n 1)
  case "$status" in
    inactive) printf '{"installed": true, "answered": true, "active": false}' ;;
    active)
      incoming=$(printf '%s\n' "$text" | sed -n 's/^Default: *\([a-z]*\) (incoming).*/\1/p' | head -n 1)
      case "$incoming" in
        allow|deny|reject) printf '{"installed": true, "answered": true, "active": true, "default_incoming": "%s"}' "$incoming" ;;
        *) printf '{"installed": true, "answered": false}' ;;
      esac ;;
    *) printf '{"installed": true, "answered": false}' ;;
  esac
}

# --- fail2ban -----------------------------------------------------------------------------
# `fail2ban-client ping` answers "Server replied: pong" while the server runs; then
# `fail2ban-client status` gives "Jail list:\tsshd, recidive" and `status JAIL`
# "Currently banned:\tN".
fail2ban_json() {
  if ! have fail2ban-client; then printf '{"installed": false, "answered": false}'; return; fi
  if ! run_ok fail2ban-client ping | grep -q pong; then
    printf '{"installed": true, "answered": true, "running": false}'
    return
  fi
  if ! text=$(run_ok fail2ban-client status); then printf '{"installed": true, "answered": false}'; return; fi
  jails=$(printf '%s\n' "$text" | sed -n 's/.*Jail list:[[:space:]]*//p' | head -n 1 | tr ',' '\n' |
    sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -E '^[A-Za-z0-9_.-]{1,64}$' | head -n 32) || true
  entries=""
  for jail in $jails; do
    banned=$(run_ok fail2ban-client status "$jail" | sed -n 's/.*Currently banned:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1) || true
    [ -n "$banned" ] || { printf '{"installed": true, "answered": false}'; return; }
    entries="$entries${entries:+, }\"$jail\": $banned"
  done
  printf '{"installed": true, "answered": true, "running": true, "jails": {%s}}' "$entries"
}

# --- sshd ---------------------------------------------------------------------------------
# `sshd -T`: the effective settings, lower-case: "passwordauthentication no",
# "permitrootlogin without-password" (the old name of prohibit-password, which OpenSSH 9.2
# still prints).
sshd_json() {
  if ! have sshd; then printf '{"installed": false, "answered": false}'; return; fi
  if ! text=$(run_ok sshd -T); then printf '{"installed": true, "answered": false}'; return; fi
  password=$(printf '%s\n' "$text" | sed -n 's/^passwordauthentication \([a-z]*\)$/\1/p' | head -n 1)
  root=$(printf '%s\n' "$text" | sed -n 's/^permitrootlogin \([a-z-]*\)$/\1/p' | head -n 1)
  [ "$root" = without-password ] && root=prohibit-password
  case "$password:$root" in
    yes:yes|yes:no|yes:prohibit-password|yes:forced-commands-only|no:yes|no:no|no:prohibit-password|no:forced-commands-only)
      printf '{"installed": true, "answered": true, "password_authentication": %s, "permit_root_login": "%s"}' \
        "$([ "$password" = yes ] && echo true || echo false)" "$root" ;;
    *) printf '{"installed": true, "answered": false}' ;;
  esac
}

# --- unattended-upgrades ------------------------------------------------------------------
# Enabled when APT::Periodic::Unattended-Upgrade is set and not "0" (20auto-upgrades, which
# `dpkg-reconfigure unattended-upgrades` writes); unset is off.
unattended_json() {
  if ! have unattended-upgrade; then printf '{"installed": false, "answered": false}'; return; fi
  if ! text=$(run_ok apt-config dump APT::Periodic::Unattended-Upgrade); then
    printf '{"installed": true, "answered": false}'; return
  fi
  value=$(printf '%s\n' "$text" | sed -n 's/^APT::Periodic::Unattended-Upgrade "\(.*\)";$/\1/p' | head -n 1)
  enabled=0
  case "$value" in ""|0) ;; *) enabled=1 ;; esac
  printf '{"installed": true, "answered": true, "enabled": %s}' "$(bool $enabled)"
}

# --- apt ----------------------------------------------------------------------------------
# Security updates: the "Inst" lines of a simulated dist-upgrade whose origin is a security
# suite, e.g. "Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])".
# dist-upgrade, not upgrade: a fix that needs a new package is still a pending fix.
# Since when: kept from the previous file while the count stays above 0.
apt_json() {
  if ! have apt-get; then printf '{"installed": false, "answered": false}'; return; fi
  if ! text=$(run_ok apt-get -s -o Debug::NoLocking=1 dist-upgrade); then
    printf '{"installed": true, "answered": false}'; return
  fi
  count=$(printf '%s\n' "$text" | grep '^Inst ' | grep -c -i -e '[-:]security' -e 'Debian-Security') || true
  count=${count:-0}
  if [ "$count" -eq 0 ]; then
    printf '{"installed": true, "answered": true, "security_updates": 0}'
    return
  fi
  since=$now
  if [ -f "$output" ] && [ ! -L "$output" ]; then
    previous=$(head -c "$max_bytes" "$output" | tr -d '\n')
    before=$(printf '%s' "$previous" | sed -n 's/.*"security_updates": *\([0-9][0-9]*\).*/\1/p')
    kept=$(printf '%s' "$previous" | sed -n 's/.*"security_updates_since": *\([0-9][0-9]*\).*/\1/p')
    if [ -n "$before" ] && [ "$before" -gt 0 ] && [ -n "$kept" ] && [ "$kept" -le "$now" ]; then since=$kept; fi
  fi
  printf '{"installed": true, "answered": true, "security_updates": %s, "security_updates_since": %s}' "$count" "$since"
}

document=$(printf '{"version": 1, "collected_at": %s,\n "ufw": %s,\n "fail2ban": %s,\n "sshd": %s,\n "unattended_upgrades": %s,\n "apt": %s}\n' \
  "$now" "$(ufw_json)" "$(fail2ban_json)" "$(sshd_json)" "$(unattended_json)" "$(apt_json)")

# Written beside the destination and renamed over it: the agent never reads half a file,
# and a link planted at the destination is replaced, not followed.
directory=$(dirname "$output")
mkdir -p "$directory"
temporary=$(mktemp "$directory/.facts.XXXXXX")
trap 'rm -f "$temporary"' EXIT
printf '%s\n' "$document" >"$temporary"
chmod 0644 "$temporary"
mv -fT "$temporary" "$output"
trap - EXIT
