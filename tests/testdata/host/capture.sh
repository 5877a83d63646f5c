#!/bin/sh
# Records what host-facts.sh runs, as the real tools answer it on this host, into DIR:
# KEY.out (stdout) and KEY.rc (exit status) per command line, KEY being the command line
# with ' ', '/', ':' and '=' as '_'; `installed` lists the tools present. stub-tool replays
# them. Run as root on the host to record (tests/package/host_facts_test.sh does, in a
# Debian 12 container):   capture.sh DIR
set -u
dir=${1:?usage: capture.sh DIR}
mkdir -p "$dir"
: >"$dir/installed"
record() {
  key=$(printf '%s' "$*" | tr ' /:=' '____')
  "$@" >"$dir/$key.out" 2>/dev/null
  echo $? >"$dir/$key.rc"
}
for tool in ufw fail2ban-client sshd unattended-upgrade apt-config apt-get; do
  command -v "$tool" >/dev/null 2>&1 && echo "$tool" >>"$dir/installed"
done
if command -v ufw >/dev/null 2>&1; then record ufw status verbose; fi
if command -v fail2ban-client >/dev/null 2>&1; then
  record fail2ban-client ping
  record fail2ban-client status
  for jail in $(fail2ban-client status 2>/dev/null | sed -n 's/.*Jail list:[[:space:]]*//p' | tr ',' ' '); do
    record fail2ban-client status "$jail"
  done
fi
if command -v sshd >/dev/null 2>&1; then record sshd -T; fi
if command -v apt-config >/dev/null 2>&1; then record apt-config dump APT::Periodic::Unattended-Upgrade; fi
if command -v apt-get >/dev/null 2>&1; then record apt-get -s -o Debug::NoLocking=1 dist-upgrade; fi
