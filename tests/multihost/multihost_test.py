#!/usr/bin/env python3
"""Many hosts and many sites with the real programs, in network namespaces of the test's own;
ctest runs both parts (labels integration, multihost), as root.

  multihost_test.py hosts SOURCE_DIR AGENT_BINARY CMAKE
    Three "hosts": three network namespaces, each joined to the root namespace by a veth
    pair with a /30 of its own, each running an agent on its address (port 9842) that
    watches fixtures of its own (a certificate file, a credential file, a TCP service on
    127.0.0.1:7000 inside the namespace). One Prometheus in the root namespace scrapes them
    through file_sd_configs (a file in the format of deploy/prometheus/file_sd/*.example)
    with the shipped rules. All targets up; every series carries the instance of the host
    it came from, with that host's own values; one agent killed: up == 0 for it alone and
    AssetsAgentDown pending, then firing, for it alone; restarted: up again, alert resolved.

  multihost_test.py sites SOURCE_DIR AGENT_BINARY CMAKE
    A site behind NAT: a namespace whose agent listens on its loopback only, scraped by a
    Prometheus in agent mode (--enable-feature=agent) of that namespace under the job name
    assets-agent-branch, with external_labels site: branch-1, which remote_writes to the
    central Prometheus (--web.enable-remote-write-receiver) in the root namespace; that one
    also scrapes a host of its own through file_sd (job assets-agent). The central holds
    the site's series with the site label; its rules were rendered by
    cmake/render_monitoring.cmake with JOB_SELECTOR job=~"assets-agent|assets-agent-branch"
    and evaluate there: the site's failing TCP check fires AssetsCheckFailing (its
    description filled by template queries on remote-written series), and the site's
    agent killed fires AssetsAgentDown with site="branch-1", which the default selector
    would not have matched; restarted, it resolves.

The rules are the shipped alerts/*.yml rendered as installed (cmake -P
cmake/render_monitoring.cmake), with every non-zero `for:` shortened to FOR_SECONDS as the
end-to-end test does (tests/e2e/stack_configs.h), so alerts fire in seconds; intervals
are 1 s.

Network: addresses in 10.213.N.0/24 (the first N in 0..15 that no interface or route of
the root namespace uses), traffic only between the root namespace and the namespaces made
here. Names carry the test's pid (namespaces assets-mh-PID-NAME, links amhPIDrI); every
namespace, link and process is removed at the end, also on failure or a signal (finally,
atexit, SIGTERM/SIGINT/SIGHUP handlers), and by a reaper process should this one be
killed with SIGKILL (it deletes them when this process's pipe closes); leftovers of a dead
run (pid gone) are removed at start. Every wait is bounded.

A component that is missing (root, ip netns, prometheus, openssl, the built agent, cmake)
skips the test (exit 77), or fails it under CI=true.
"""
import atexit
import ctypes
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

SKIP = 77
FOR_SECONDS = 5           # every non-zero `for:` of the rules, shortened
AGENT_PORT = 9842
SERVICE_PORT = 7000       # a TCP service inside each namespace, on its loopback
CLOSED_PORT = 7001        # nothing listens there: the site's failing check
BRANCH_JOB = "assets-agent-branch"
BRANCH_SITE = "branch-1"
SITES_SELECTOR = 'job=~"assets-agent|assets-agent-branch"'
DEFAULT_SELECTOR = 'job="assets-agent"'
NS_PREFIX = "assets-mh-"
LINK_PREFIX = "amh"
PID = os.getpid()
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
STARTED = time.monotonic()

# A TCP service for the health checks: accepts and closes, until killed.
SERVICE_PY = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.close()
"""

# The reaper: started in a session of its own, it waits for EOF on stdin. "done" first means
# the test cleaned up; EOF alone means the test died: it kills the test's processes and
# deletes its namespaces and links.
REAPER_PY = """
import os, signal, subprocess, sys, time
spec = sys.argv[1:]
pids = [int(x[4:]) for x in spec if x.startswith("pid:")]
data = sys.stdin.buffer.read()
if data.endswith(b"done"):
    sys.exit(0)
lines = data.decode(errors="replace").split()
pids += [int(x[4:]) for x in lines if x.startswith("pid:")]
for pid in pids:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
time.sleep(0.5)
for x in spec:
    if x.startswith("ns:"):
        subprocess.run(["ip", "netns", "del", x[3:]], capture_output=True, timeout=30)
for x in spec:
    if x.startswith("link:"):
        subprocess.run(["ip", "link", "del", x[5:]], capture_output=True, timeout=30)
for x in spec:
    if x.startswith("dir:"):
        subprocess.run(["rm", "-rf", "--one-file-system", x[4:]], capture_output=True, timeout=60)
"""


class Missing(Exception):
    """A component that the test needs is absent or does not start."""


class Interrupted(Exception):
    """A signal asked the test to stop."""


def log(message):
    print(f"multihost_test [{time.monotonic() - STARTED:6.1f}s]: {message}", flush=True)


def run(argv, timeout=60, check=True, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def eventually(predicate, limit, what, period=0.25):
    """The first truthy value of predicate() within `limit` seconds; AssertionError otherwise."""
    deadline = time.monotonic() + limit
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, KeyError, IndexError) as error:  # not answering yet, no series yet
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit} s" + (f" (last error: {last_error})" if last_error else ""))
        time.sleep(period)


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies (prctl PR_SET_PDEATHSIG);
    `ip netns exec` execs the command, which keeps it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Prometheus:
    """The HTTP API of a Prometheus at base_url."""

    def __init__(self, base_url):
        self.base = base_url

    def get(self, path, timeout=5):
        with OPENER.open(self.base + path, timeout=timeout) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise ValueError(f"{path}: {body}")
        return body["data"]

    def query(self, expression):
        return self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expression}))["result"]

    def ready(self):
        try:
            with OPENER.open(self.base + "/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def alerts(self, **labels):
        """Active alerts (pending or firing) whose labels include `labels`."""
        return [alert for alert in self.get("/api/v1/alerts")["alerts"]
                if all(alert["labels"].get(k) == v for k, v in labels.items())]

    def rules(self):
        return [(group["name"], rule) for group in self.get("/api/v1/rules")["groups"] for rule in group["rules"]]


class World:
    """Everything the test makes: namespaces, links, processes, a work folder. close()
    removes it all; it is idempotent and runs from finally, atexit and the signal handlers."""

    def __init__(self):
        self.work = Path(tempfile.mkdtemp(prefix=f"assets-multihost-{PID}."))
        self.namespaces = []
        self.links = []
        self.processes = {}  # name -> (Popen, log path)
        self.closed = False
        self.reaper = None

    # --- the reaper --------------------------------------------------------------------
    def start_reaper(self, planned_namespaces, planned_links):
        spec = ([f"ns:{n}" for n in planned_namespaces] + [f"link:{l}" for l in planned_links]
                + [f"dir:{self.work}"])
        self.reaper = subprocess.Popen([sys.executable, "-c", REAPER_PY, *spec], stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True, close_fds=True)

    def _tell_reaper(self, text):
        if self.reaper is not None and self.reaper.stdin and not self.reaper.stdin.closed:
            try:
                self.reaper.stdin.write(text.encode())
                self.reaper.stdin.flush()
            except OSError:
                pass

    # --- processes ---------------------------------------------------------------------
    def spawn(self, name, argv, namespace=None):
        """Starts argv (in `namespace` with ip netns exec), its output to WORK/NAME.log."""
        log_path = self.work / f"{name}.log"
        prefix = ["ip", "netns", "exec", namespace] if namespace else []
        with open(log_path, "ab") as out:
            process = subprocess.Popen([*prefix, *map(str, argv)], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, close_fds=True)
        self.processes[name] = (process, log_path)
        self._tell_reaper(f"pid:{process.pid}\n")
        return process

    def stop(self, name, sig=signal.SIGTERM, wait=10):
        process, _ = self.processes[name]
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        return process.returncode

    def log_of(self, name, chars=3000):
        try:
            text = self.processes[name][1].read_text(errors="replace")
        except (KeyError, OSError):
            return ""
        return text if len(text) <= chars else "..." + text[-chars:]

    # --- the network ---------------------------------------------------------------------
    def add_host(self, index, name, block):
        """Namespace NAME joined to the root namespace by a veth pair with the /30 number
        `index` of `block`; its addresses (root side, namespace side)."""
        namespace = f"{NS_PREFIX}{PID}-{name}"
        outside = f"{LINK_PREFIX}{PID}r{index}"
        inside = f"{LINK_PREFIX}{PID}n{index}"
        net = list(block.subnets(new_prefix=30))[index]
        root_ip, ns_ip = str(net.network_address + 1), str(net.network_address + 2)
        result = run(["ip", "netns", "add", namespace], check=False)
        if result.returncode != 0:
            raise Missing(f"ip netns add: {result.stderr.strip()}")
        self.namespaces.append(namespace)
        run(["ip", "link", "add", outside, "type", "veth", "peer", "name", inside])
        self.links.append(outside)
        run(["ip", "link", "set", inside, "netns", namespace])
        run(["ip", "addr", "add", f"{root_ip}/30", "dev", outside])
        run(["ip", "link", "set", outside, "up"])
        ns = ["ip", "-n", namespace]
        run([*ns, "link", "set", "lo", "up"])
        run([*ns, "addr", "add", f"{ns_ip}/30", "dev", inside])
        run([*ns, "link", "set", inside, "up"])
        return namespace, root_ip, ns_ip

    def close(self):
        if self.closed:
            return
        self.closed = True
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # no interruption half-way
            signal.signal(number, signal.SIG_IGN)
        for name in reversed(list(self.processes)):  # the site's Prometheus before the central
            try:
                self.stop(name, wait=5)
            except Exception as error:  # noqa: BLE001 - keep cleaning
                log(f"stopping {name}: {error}")
        for namespace in self.namespaces:
            run(["ip", "netns", "del", namespace], check=False)
        for link in self.links:  # gone with its peer's namespace; in case not
            if Path(f"/sys/class/net/{link}").exists():
                run(["ip", "link", "del", link], check=False)
        shutil.rmtree(self.work, ignore_errors=True)
        self._tell_reaper("done")
        if self.reaper is not None:
            try:
                self.reaper.stdin.close()
                self.reaper.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        left = [n for n in self.namespaces if n in namespaces_now()]
        left += [l for l in self.links if Path(f"/sys/class/net/{l}").exists()]
        if left:
            log(f"NOT REMOVED: {left}")
        else:
            log(f"removed {len(self.namespaces)} namespaces, {len(self.links)} links, "
                f"{len(self.processes)} processes")


def namespaces_now():
    result = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def remove_leftovers():
    """Namespaces and links of earlier runs whose process is gone (a run killed with SIGKILL
    whose reaper was killed too)."""
    for namespace in namespaces_now():
        match = re.fullmatch(rf"{NS_PREFIX}(\d+)-\w+", namespace)
        if match and not pid_alive(int(match.group(1))):
            log(f"removing the leftover namespace {namespace}")
            run(["ip", "netns", "del", namespace], check=False)
    for link in os.listdir("/sys/class/net"):
        match = re.fullmatch(rf"{LINK_PREFIX}(\d+)[rn]\d+", link)
        if match and not pid_alive(int(match.group(1))):
            log(f"removing the leftover link {link}")
            run(["ip", "link", "del", link], check=False)


def free_block():
    """The first 10.213.N.0/24 (N in 0..15) that no address or route of the root namespace
    overlaps."""
    used = []
    for line in run(["ip", "-4", "-o", "addr", "show"]).stdout.splitlines():
        match = re.search(r"inet (\S+)", line)
        if match:
            used.append(ipaddress.ip_interface(match.group(1)).network)
    for line in run(["ip", "-4", "route", "show", "table", "all"]).stdout.splitlines():
        words = line.split()
        if not words:
            continue
        destination = words[1] if words[0] in ("local", "broadcast", "unicast", "blackhole", "unreachable") else words[0]
        if destination == "default":
            continue
        try:
            used.append(ipaddress.ip_network(destination, strict=False))
        except ValueError:
            pass
    for n in range(16):
        block = ipaddress.ip_network(f"10.213.{n}.0/24")
        if not any(block.overlaps(network) for network in used):
            return block
    raise Missing("every 10.213.N.0/24 (N in 0..15) is in use in the root namespace")


def free_port(address):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def connects(address, port, timeout=1.0):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


# --- fixtures ------------------------------------------------------------------------------

def make_certificate(path, common_name, days):
    """A self-signed certificate valid for `days`; its notAfter as Unix seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", str(days), "-subj", f"/CN={common_name}", "-keyout", str(path.with_suffix(".key")),
         "-out", str(path)])
    end = run(["openssl", "x509", "-in", str(path), "-noout", "-enddate"]).stdout.strip().split("=", 1)[1]
    return ssl.cert_time_to_seconds(end)


class Host:
    """One host: its namespace, addresses, fixtures and agent."""

    def __init__(self, world, index, name, block, agent_binary, days, listen_loopback=False, failing_check=False):
        self.world, self.name, self.agent_binary = world, name, agent_binary
        self.namespace, self.root_ip, self.ns_ip = world.add_host(index, name, block)
        self.listen = f"{'127.0.0.1' if listen_loopback else self.ns_ip}:{AGENT_PORT}"
        self.dir = world.work / name
        self.cert = self.dir / "certs" / f"{name}.pem"
        self.common_name = f"{name}.multihost.test"
        self.not_after = make_certificate(self.cert, self.common_name, days)
        self.token = self.dir / "deploy.token"
        self.token.write_text(f"{name}-token\n")
        self.config = self.dir / "agent.yml"
        checks = [f"  - name: service\n    kind: tcp\n    address: 127.0.0.1:{SERVICE_PORT}\n"]
        if failing_check:
            checks.append(f"  - name: admin\n    kind: tcp\n    address: 127.0.0.1:{CLOSED_PORT}\n")
        self.config.write_text(
            "global:\n  interval: 1s\n  timeout: 900ms\n"
            "health:\n" + "".join(checks) +
            f"certificates:\n  files: [\"{self.dir}/certs/*.pem\"]\n"
            f"credentials:\n  files:\n    - {{name: deploy_token, path: {self.token}}}\n")
        world.spawn(f"{name}-service", [sys.executable, "-c", SERVICE_PY, SERVICE_PORT], namespace=self.namespace)

    def start_agent(self):
        self.world.spawn(f"{self.name}-agent", [self.agent_binary, "--config.file", self.config,
                                                "--web.listen-address", self.listen], namespace=self.namespace)

    def kill_agent(self):
        return self.world.stop(f"{self.name}-agent", sig=signal.SIGKILL)


def check_agent_config(agent_binary, host):
    result = run([agent_binary, "config", "check", "--config.file", host.config], check=False)
    expect(result.returncode == 0, f"{host.config}: config check exited {result.returncode}:\n{result.stdout}{result.stderr}")


def render_rules(source, cmake, out_dir, selector):
    """alerts/*.yml as installed, by cmake/render_monitoring.cmake with this selector, then
    `for:` shortened. The number of rules."""
    rendered = out_dir / "rendered"
    run([cmake, f"-DSOURCE_DIR={source}", f"-DOUTPUT_DIR={rendered}", f"-DJOB_SELECTOR={selector}",
         "-DWHAT=alerts", "-P", str(source / "cmake/render_monitoring.cmake")])
    rules_dir = out_dir / "rules"
    rules_dir.mkdir()
    count = 0
    for path in sorted((rendered / "alerts").glob("*.yml")):
        text = path.read_text()
        count += len(re.findall(r"^\s*- (?:alert|record):", text, re.M))
        text = re.sub(r"^(\s*)for: *(\S+)\s*$",
                      lambda m: m.group(0) if re.fullmatch(r"0+[smhdwy]?", m.group(2)) else f"{m.group(1)}for: {FOR_SECONDS}s",
                      text, flags=re.M)
        (rules_dir / path.name).write_text(text)
    agent_rules = (rules_dir / "agent.yml").read_text()
    expect(f"up{{{selector}}} == 0" in agent_rules, f"the rendered AssetsAgentDown does not select up{{{selector}}}")
    return rules_dir, count


def write_file_sd(path, groups):
    """file_sd in the format of deploy/prometheus/file_sd/assets-agents.yml.example."""
    lines = ["# Written by tests/multihost/multihost_test.py, in the format of",
             "# deploy/prometheus/file_sd/assets-agents.yml.example."]
    for targets, labels in groups:
        lines.append("- targets:")
        lines += [f"    - {target}" for target in targets]
        lines.append("  labels:")
        lines += [f"    {k}: {v}" for k, v in labels.items()]
    path.write_text("\n".join(lines) + "\n")


def central_config(work, rules_dir, file_sd_dir):
    path = work / "prometheus.yml"
    path.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {rules_dir}/*.yml\n"
        "scrape_configs:\n"
        "  - job_name: assets-agent\n"
        "    file_sd_configs:\n"
        f"      - files: [\"{file_sd_dir}/*.yml\"]\n"
        "        refresh_interval: 5s\n")
    if shutil.which("promtool"):
        run(["promtool", "check", "config", str(path)])
    return path


def start_central(world, config, listen, remote_write_receiver=False):
    argv = ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={world.work / 'central-data'}",
            f"--web.listen-address={listen}"]
    if remote_write_receiver:
        argv.append("--web.enable-remote-write-receiver")
    world.spawn("central", argv)
    api = Prometheus(f"http://{listen}")
    eventually(api.ready, 60, f"the central Prometheus ready on {listen}")
    return api


def wait_rules_healthy(api, expected, world):
    """Every rule evaluated without error, and as many as alerts/ has."""
    def healthy():
        rules = api.rules()
        return len(rules) == expected and all(rule.get("health") == "ok" for _, rule in rules)
    try:
        eventually(healthy, 30, f"all {expected} rules loaded and evaluated with health ok")
    except AssertionError:
        bad = [(g, r["name"], r.get("health"), r.get("lastError")) for g, r in api.rules() if r.get("health") != "ok"]
        raise AssertionError(f"rules not healthy: {bad[:10]}\n{world.log_of('central')}")
    log(f"{expected} rules loaded, each evaluated with health ok")


def watch_alert(api, what, limit, **labels):
    """Polls until the alert is firing; the seconds at which it was first seen pending and
    firing (pending None if it was never seen pending)."""
    start = time.monotonic()
    seen = {}
    def firing():
        for alert in api.alerts(**labels):
            seen.setdefault(alert["state"], time.monotonic() - start)
        return "firing" in seen
    eventually(firing, limit, f"{what} firing", period=0.2)
    return seen.get("pending"), seen["firing"]


def expect_pending_then_firing(api, what, limit, **labels):
    pending, firing = watch_alert(api, what, limit, **labels)
    expect(pending is not None, f"{what}: went firing at {firing:.1f} s without being seen pending")
    expect(firing - pending >= FOR_SECONDS - 1.5,
           f"{what}: pending at {pending:.1f} s, firing at {firing:.1f} s: less than for: {FOR_SECONDS}s apart")
    log(f"{what}: pending after {pending:.1f} s, firing after {firing:.1f} s (for: {FOR_SECONDS}s)")
    return firing_alert(api, labels)


def firing_alert(api, labels):
    firing = [alert for alert in api.alerts(**labels) if alert["state"] == "firing"]
    expect(len(firing) == 1, f"firing alerts with {labels}: {firing}")
    return firing[0]


def value(api, expression):
    result = api.query(expression)
    return [(sample["metric"], float(sample["value"][1])) for sample in result]


# --- part 1: three hosts ---------------------------------------------------------------

def part_hosts(source, agent_binary, cmake, world, block):
    names = ["h1", "h2", "h3"]
    hosts = [Host(world, i, name, block, agent_binary, days=30 + 20 * i) for i, name in enumerate(names)]
    for host in hosts:
        check_agent_config(agent_binary, host)
        host.start_agent()
    rules_dir, rule_count = render_rules(source, cmake, world.work, DEFAULT_SELECTOR)
    file_sd = world.work / "file_sd"
    file_sd.mkdir()
    envs = {"h1": "staging", "h2": "production", "h3": "production"}
    write_file_sd(file_sd / "assets-agents.yml",
                  [([f"{h.ns_ip}:{AGENT_PORT}"], {"env": envs[h.name]}) for h in hosts])
    config = central_config(world.work, rules_dir, file_sd)
    listen = f"127.0.0.1:{free_port('127.0.0.1')}"
    api = start_central(world, config, listen)
    log(f"central Prometheus on {listen}; agents on {', '.join(h.listen for h in hosts)} in "
        f"{', '.join(h.namespace for h in hosts)}")
    instances = {h.name: f"{h.ns_ip}:{AGENT_PORT}" for h in hosts}

    # All three targets up, through file_sd.
    def all_up():
        return sorted(m["instance"] for m, v in value(api, 'up{job="assets-agent"}') if v == 1) == sorted(instances.values())
    try:
        eventually(all_up, 30, "all 3 targets up")
    except AssertionError:
        raise AssertionError(f"targets: {api.get('/api/v1/targets')}\n" +
                             "\n".join(f"--- {h.name}:\n{world.log_of(h.name + '-agent')}" for h in hosts))
    log(f"3 targets up: {', '.join(sorted(instances.values()))}")

    # Every series carries its own instance (and the file_sd labels of its group), with the
    # values of its own host's fixtures.
    eventually(lambda: len(value(api, "assets_cert_not_after_timestamp_seconds")) == 3 and
               len(value(api, 'assets_check_up{check="service"}')) == 3, 20, "each host's certificate and check")
    series = api.get("/api/v1/series?" + urllib.parse.urlencode({"match[]": '{job="assets-agent"}'}))
    by_instance = {}
    for labels in series:
        by_instance.setdefault(labels.get("instance", ""), []).append(labels)
    expect(set(by_instance) == set(instances.values()),
           f"series of job assets-agent by instance: {sorted(by_instance)} (expected {sorted(instances.values())})")
    for host in hosts:
        own = by_instance[instances[host.name]]
        wrong_env = [l for l in own if l.get("env") != envs[host.name]]
        expect(not wrong_env, f"{host.name}: series without env={envs[host.name]}: {wrong_env[:3]}")
        foreign = [l for l in own for other in hosts if other is not host and
                   any(str(other.dir) in v or other.common_name in v for v in l.values())]
        expect(not foreign, f"{host.name}: series that name another host's fixtures: {foreign[:3]}")
        certs = value(api, f'assets_cert_not_after_timestamp_seconds{{instance="{instances[host.name]}"}}')
        expect(len(certs) == 1 and certs[0][0]["target"] == str(host.cert) and
               certs[0][0]["subject_cn"] == host.common_name and abs(certs[0][1] - host.not_after) < 2,
               f"{host.name}: certificate series {certs}, expected {host.cert} CN {host.common_name} "
               f"notAfter {host.not_after}")
        checks = value(api, f'assets_check_up{{instance="{instances[host.name]}",check="service"}}')
        expect(checks and checks[0][1] == 1, f"{host.name}: its namespace's TCP service: {checks}")
        tokens = value(api, f'assets_credential_up{{instance="{instances[host.name]}"}}')
        expect(len(tokens) == 1 and tokens[0][0]["path"] == str(host.token) and tokens[0][1] == 1,
               f"{host.name}: credential series {tokens}")
    log(f"{len(series)} series, each with the instance of its host ({', '.join(f'{i}: {len(v)}' for i, v in sorted(by_instance.items()))}), "
        "the env of its file_sd group and that host's own certificate, credential and TCP service")

    wait_rules_healthy(api, rule_count, world)
    expect(not api.alerts(alertname="AssetsAgentDown"), f"AssetsAgentDown before any fault: {api.alerts(alertname='AssetsAgentDown')}")

    # One agent killed: up == 0 for it alone, the shipped alert pending then firing for it alone.
    victim = hosts[1]
    killed_at = time.monotonic()
    victim.kill_agent()
    log(f"killed the agent of {victim.name} ({instances[victim.name]}) with SIGKILL")
    eventually(lambda: [v for _, v in value(api, f'up{{instance="{instances[victim.name]}"}}')] == [0.0],
               15, f"up == 0 for {victim.name}")
    others_up = value(api, f'up{{job="assets-agent",instance!="{instances[victim.name]}"}}')
    expect(sorted(v for _, v in others_up) == [1.0, 1.0], f"the other targets: {others_up}")
    alert = expect_pending_then_firing(api, f"AssetsAgentDown for {victim.name}", 30,
                                       alertname="AssetsAgentDown", instance=instances[victim.name])
    expect(alert["labels"].get("severity") == "critical" and alert["labels"].get("env") == envs[victim.name],
           f"AssetsAgentDown labels: {alert['labels']}")
    expect(instances[victim.name] in alert["annotations"].get("summary", ""), f"annotations: {alert['annotations']}")
    all_down_alerts = api.alerts(alertname="AssetsAgentDown")
    expect(len(all_down_alerts) == 1, f"AssetsAgentDown for other hosts too: {[a['labels'] for a in all_down_alerts]}")
    fired_after = time.monotonic() - killed_at

    # Restarted: up again, the alert resolved.
    restarted_at = time.monotonic()
    victim.start_agent()
    eventually(lambda: [v for _, v in value(api, f'up{{instance="{instances[victim.name]}"}}')] == [1.0], 20,
               f"up == 1 for {victim.name} after the restart")
    eventually(lambda: not api.alerts(alertname="AssetsAgentDown"), 20, "AssetsAgentDown resolved")
    log(f"{victim.name} restarted: up again and AssetsAgentDown resolved after {time.monotonic() - restarted_at:.1f} s "
        f"(kill to firing: {fired_after:.1f} s)")


# --- part 2: a site behind NAT, by remote_write ------------------------------------------

def part_sites(source, agent_binary, cmake, world, block):
    local = Host(world, 0, "h1", block, agent_binary, days=40)
    branch = Host(world, 1, "branch", block, agent_binary, days=90, listen_loopback=True, failing_check=True)
    for host in (local, branch):
        check_agent_config(agent_binary, host)
        host.start_agent()
    rules_dir, rule_count = render_rules(source, cmake, world.work, SITES_SELECTOR)
    file_sd = world.work / "file_sd"
    file_sd.mkdir()
    write_file_sd(file_sd / "assets-agents.yml", [([f"{local.ns_ip}:{AGENT_PORT}"], {"env": "production"})])
    config = central_config(world.work, rules_dir, file_sd)
    # The central listens where the site's namespace reaches it: the root side of its link.
    listen = f"{branch.root_ip}:{free_port(branch.root_ip)}"
    api = start_central(world, config, listen, remote_write_receiver=True)

    # The site's Prometheus in agent mode: scrapes its agent on the namespace's loopback,
    # remote_writes to the central with the site's external label.
    site_instance = f"{BRANCH_SITE}-host1:{AGENT_PORT}"
    site_config = world.work / "site-prometheus.yml"
    site_config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        f"  external_labels:\n    site: {BRANCH_SITE}\n"
        "scrape_configs:\n"
        f"  - job_name: {BRANCH_JOB}\n"
        "    static_configs:\n"
        f"      - targets: [\"{branch.listen}\"]\n"
        f"        labels:\n          instance: {site_instance}\n"
        "remote_write:\n"
        f"  - url: http://{listen}/api/v1/write\n"
        "    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n      max_backoff: 1s\n")
    if shutil.which("promtool"):
        run(["promtool", "check", "config", "--agent", str(site_config)])
    world.spawn("site-prometheus", ["prometheus", "--enable-feature=agent", f"--config.file={site_config}",
                                    f"--storage.agent.path={world.work / 'site-data'}",
                                    "--web.listen-address=127.0.0.1:9090"], namespace=branch.namespace)
    log(f"central Prometheus on {listen} (remote-write receiver), scraping {local.listen} in {local.namespace}; "
        f"agent-mode Prometheus and agent ({branch.listen}) in {branch.namespace}")

    # Behind "NAT": the central cannot reach the site's agent, only the other way round.
    expect(not connects(branch.ns_ip, AGENT_PORT), f"the site's agent answers at {branch.ns_ip}:{AGENT_PORT}")

    site = f'job="{BRANCH_JOB}",site="{BRANCH_SITE}"'
    try:
        eventually(lambda: value(api, f"assets_agent_build_info{{{site}}}"), 45,
                   "the site's series on the central Prometheus")
    except AssertionError:
        raise AssertionError(f"--- site prometheus:\n{world.log_of('site-prometheus')}\n--- central:\n"
                             f"{world.log_of('central')}\n--- branch agent:\n{world.log_of('branch-agent')}")
    eventually(lambda: value(api, f'assets_cert_not_after_timestamp_seconds{{{site}}}'), 20, "the site's certificate")
    eventually(lambda: value(api, f'up{{job="assets-agent",instance="{local.ns_ip}:{AGENT_PORT}"}}') and
               value(api, f'up{{job="assets-agent"}}')[0][1] == 1, 20, "the central's own target up")
    site_series = api.get("/api/v1/series?" + urllib.parse.urlencode({"match[]": f'{{job="{BRANCH_JOB}"}}'}))
    without_site = [l for l in site_series if l.get("site") != BRANCH_SITE or l.get("instance") != site_instance]
    expect(site_series and not without_site, f"site series without site/instance labels: {without_site[:3]}")
    local_series = api.get("/api/v1/series?" + urllib.parse.urlencode({"match[]": '{job="assets-agent"}'}))
    expect(local_series and not [l for l in local_series if "site" in l], "the scraped host's series have a site label")
    certs = value(api, f"assets_cert_not_after_timestamp_seconds{{{site}}}")
    expect(len(certs) == 1 and certs[0][0]["target"] == str(branch.cert) and abs(certs[0][1] - branch.not_after) < 2,
           f"the site's certificate on the central: {certs}")
    log(f"central holds {len(site_series)} series of the site (job {BRANCH_JOB}, site={BRANCH_SITE}, "
        f"instance {site_instance}) next to {len(local_series)} scraped ones (job assets-agent, no site)")

    wait_rules_healthy(api, rule_count, world)

    # A shipped rule on remote-written series: the site's check of a closed port (failing
    # since the start, so it may be firing already).
    labels = {"alertname": "AssetsCheckFailing", "check": "admin", "site": BRANCH_SITE}
    _, firing = watch_alert(api, "AssetsCheckFailing for the site's admin check", 45, **labels)
    log(f"AssetsCheckFailing for the site's admin check: firing {firing:.1f} s after the rules were healthy")
    alert = firing_alert(api, labels)
    expect(alert["labels"].get("job") == BRANCH_JOB and alert["labels"].get("instance") == site_instance,
           f"labels: {alert['labels']}")
    expect("(reason: refused)" in alert["annotations"].get("description", ""),
           f"the description's template query on remote-written series: {alert['annotations']}")
    expect(not api.alerts(alertname="AssetsCheckFailing", check="service"), "the service checks fail")

    # The site's agent killed: up == 0 arrives by remote_write; the rendered selector
    # matches the site's job, the default one would not.
    killed_at = time.monotonic()
    branch.kill_agent()
    log("killed the site's agent with SIGKILL")
    eventually(lambda: [v for _, v in value(api, f"up{{{site}}}")] == [0.0], 20, "up == 0 of the site on the central")
    expect(not value(api, f"up{{{DEFAULT_SELECTOR}}} == 0"),
           f"up{{{DEFAULT_SELECTOR}}} == 0 (the default rule) has a result: {value(api, f'up{{{DEFAULT_SELECTOR}}} == 0')}")
    alert = expect_pending_then_firing(api, "AssetsAgentDown for the site", 40, alertname="AssetsAgentDown",
                                       site=BRANCH_SITE)
    expect(alert["labels"].get("job") == BRANCH_JOB and alert["labels"].get("instance") == site_instance,
           f"labels: {alert['labels']}")
    expect(len(api.alerts(alertname="AssetsAgentDown")) == 1, f"other AssetsAgentDown: {api.alerts(alertname='AssetsAgentDown')}")
    log(f"AssetsAgentDown{{site=\"{BRANCH_SITE}\", job=\"{BRANCH_JOB}\"}} on the central {time.monotonic() - killed_at:.1f} s "
        f"after the kill; up{{{DEFAULT_SELECTOR}}} == 0 (the default selector) matched nothing")

    restarted_at = time.monotonic()
    branch.start_agent()
    eventually(lambda: [v for _, v in value(api, f"up{{{site}}}")] == [1.0], 30, "the site's up == 1 again")
    eventually(lambda: not api.alerts(alertname="AssetsAgentDown"), 30, "AssetsAgentDown of the site resolved")
    log(f"the site's agent restarted: up again and AssetsAgentDown resolved after {time.monotonic() - restarted_at:.1f} s")


# --- main --------------------------------------------------------------------------------

PARTS = {"hosts": (part_hosts, ["h1", "h2", "h3"]), "sites": (part_sites, ["h1", "branch"])}


def require_components(agent_binary, cmake):
    if os.geteuid() != 0:
        raise Missing("root (network namespaces and veth pairs)")
    for program in ("ip", "prometheus", "openssl"):
        if shutil.which(program) is None:
            raise Missing(f"{program} (deploy/install-deps.sh --test)")
    if not os.access(agent_binary, os.X_OK):
        raise Missing(f"the built agent: {agent_binary}")
    if not (os.access(cmake, os.X_OK) or shutil.which(cmake)):
        raise Missing(f"cmake: {cmake}")
    version = run(["prometheus", "--version"], check=False).stdout.split("\n")[0]
    match = re.search(r"version (\d+)\.(\d+)", version)
    if not match or (int(match.group(1)), int(match.group(2))) < (2, 32):
        raise Missing(f"Prometheus 2.32 or later (agent mode and the remote-write receiver): {version}")
    return version


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in PARTS:
        sys.exit("usage: multihost_test.py hosts|sites SOURCE_DIR AGENT_BINARY CMAKE")
    part, source, agent_binary, cmake = sys.argv[1], Path(sys.argv[2]).resolve(), sys.argv[3], sys.argv[4]
    function, host_names = PARTS[part]
    world = None

    def on_signal(number, _frame):
        raise Interrupted(signal.Signals(number).name)

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, on_signal)
    try:
        version = require_components(agent_binary, cmake)
        log(f"{part}: {version.strip()}; agent {agent_binary}")
        remove_leftovers()
        block = free_block()
        world = World()
        atexit.register(world.close)
        world.start_reaper([f"{NS_PREFIX}{PID}-{n}" for n in host_names],
                           [f"{LINK_PREFIX}{PID}r{i}" for i in range(len(host_names))])
        log(f"addresses in {block} (unused in the root namespace)")
        function(source, agent_binary, cmake, world, block)
    except Missing as missing:
        if os.environ.get("CI") == "true":
            log(f"required component missing: {missing}")
            return 1
        log(f"component missing (set CI=true to fail instead): {missing}")
        return SKIP
    except Interrupted as interrupted:
        log(f"interrupted by {interrupted}")
        return 1
    except AssertionError as failure:
        log(f"FAILED: {failure}")
        if world is not None:
            for name in world.processes:
                if name.endswith("-service"):
                    continue
                log(f"--- log of {name}:\n{world.log_of(name, 1500)}")
        return 1
    finally:
        if world is not None:
            world.close()
    log(f"{part}: passed in {time.monotonic() - STARTED:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
