#!/usr/bin/env python3
"""deploy/ansible, checked and applied for real; ctest runs each part (label ansible).

  ansible_test.py lint SOURCE_DIR
    `ansible-playbook --syntax-check` of site.yml, `ansible-lint --strict` on the folder
    (its .ansible-lint: the production profile, offline), the example inventory's groups;
    then the same on copies broken on purpose, each of which must fail, so that a check
    that accepts everything cannot pass.
  ansible_test.py apply SOURCE_DIR PACKAGE_DIR
    site.yml applied through Ansible's podman connection to a Debian 12 container of the
    local base image (tests/tools/debian-base-image.sh systemd) with systemd as PID 1,
    with the example inventory's group_vars, a vault encrypted with ansible-vault, and a
    "Prometheus host" that is the controller itself. The .deb is PACKAGE_DIR's (what
    `make package` leaves in build/package). Run 1 installs and configures; run 2 must
    report no change; then: the service active and enabled, /metrics through the web
    config's bearer token, the secrets in their files and in no configuration, the file_sd
    entry, UFW letting only the Prometheus address in (from a network namespace of the
    test, over a veth into the container) and a real Prometheus scraping the agent through
    the file_sd entry. Run 3 changes the configuration and adds a Prometheus address, first
    with --check (the same changes reported, none made), then for real: the file and the
    rules change (the new allow rule before the deny), and the agent is
    reloaded (SIGHUP, same PID); run 4 gives a configuration `config check` refuses: the
    run fails and the file on the host stays as it was.

A missing component (ansible, ansible-lint, podman, runc, debootstrap, prometheus, the
.deb) skips the test (exit 77), or fails it under CI=true. The container, the network
namespace and Prometheus are removed at the end, also on failure.
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import yaml
except ImportError:  # reported as a missing component
    yaml = None

SKIP = 77
# The configuration's sections: one variable of the role each (assets_agent_<section>).
SECTIONS = ("global", "health", "containers", "backups", "certificates", "credentials", "maintenance", "host")
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
CACHE = Path(os.environ.get("ASSETS_TEST_CACHE", "/var/cache/assets-agent-tests"))
# Inside the test's own namespaces only (the container's and one made here), so the same
# addresses can be used by any other test at the same time.
PROMETHEUS_IP, AGENT_IP, OTHER_IP = "198.18.0.1", "198.18.0.2", "198.18.0.3"
SECOND_PROMETHEUS_IP = "198.18.0.4"  # only in ufw's rules
PORT = 9842
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                   r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


class Missing(Exception):
    """A component that the test needs is absent."""


class Failed(Exception):
    """What the test saw is wrong."""


def log(message):
    print(f"ansible_test: {message}", flush=True)


def run(argv, timeout=300, check=True, **kwargs):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise Failed(f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def need(*programs):
    for program in programs:
        if shutil.which(program) is None:
            raise Missing(f"{program} (deploy/install-deps.sh --test)")


def expect(condition, message):
    if not condition:
        raise Failed(message)


# --- lint -------------------------------------------------------------------------------

def lint(folder, *extra):
    """(syntax-check, ansible-lint) results on a copy or the folder itself."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", NO_COLOR="1", ANSIBLE_CONFIG=str(folder / "ansible.cfg"))
    syntax = run(["ansible-playbook", "--syntax-check", "-i", "inventory/hosts.yml", "site.yml"],
                 cwd=folder, env=env, check=False, timeout=120)
    linted = run(["ansible-lint", "--nocolor", "--strict", *extra], cwd=folder, env=env, check=False, timeout=300)
    return syntax, linted


# (what is broken, file, text appended or replaced, what must fail and say what)
BROKEN_COPIES = [
    ("a task without a name or changed_when", "roles/assets_agent/tasks/main.yml", None,
     "\n- ansible.builtin.command: ufw status\n", "lint", "no-changed-when"),
    ("a module that does not exist", "roles/assets_agent/tasks/main.yml", None,
     "\n- name: Nothing\n  ansible.builtin.no_such_module:\n    name: x\n", "syntax", "no_such_module"),
    ("a secret's file without a mode", "roles/assets_agent/tasks/secrets.yml",
     '    mode: "0640"\n  loop:', "  loop:", "lint", "risky-file-permissions"),
]


def check_lint(source):
    need("ansible-playbook", "ansible-lint", "ansible-inventory")
    folder = source / "deploy/ansible"
    log(run(["ansible-lint", "--version", "--nocolor"], check=False).stdout.strip().replace("\x1b", ""))
    syntax, linted = lint(folder)
    sys.stdout.write(syntax.stdout + syntax.stderr + linted.stdout + linted.stderr)
    expect(syntax.returncode == 0, "ansible-playbook --syntax-check failed")
    expect(linted.returncode == 0, "ansible-lint failed")

    listed = json.loads(run(["ansible-inventory", "-i", folder / "inventory/hosts.yml", "--list"],
                            cwd=folder).stdout)
    for group in ("staging", "production", "monitoring"):
        expect(listed.get(group, {}).get("hosts"), f"the example inventory has no hosts in {group}")
    expect(set(listed["assets_hosts"]["children"]) == {"staging", "production"},
           f"assets_hosts: {listed['assets_hosts']}")
    log("example inventory: staging, production (assets_hosts) and monitoring")

    # The role's defaults are the package's configuration file, section by section.
    if yaml is None:
        raise Missing(f"the yaml module for {sys.executable} (python3-yaml)")
    shipped = yaml.safe_load((source / "deploy/assets-agent.yml").read_text())
    defaults = yaml.safe_load((folder / "roles/assets_agent/defaults/main.yml").read_text())
    drifted = [section for section in SECTIONS
               if shipped.get(section) != defaults.get(f"assets_agent_{section}")]
    expect(not drifted and set(shipped) <= set(SECTIONS),
           f"the role's defaults differ from deploy/assets-agent.yml in: {drifted or set(shipped)}")
    log("the role's defaults: deploy/assets-agent.yml, section by section")

    failures = 0
    for what, name, old, new, which, expected in BROKEN_COPIES:
        with tempfile.TemporaryDirectory(prefix="ansible-test.") as work:
            copy = Path(work) / "ansible"
            shutil.copytree(folder, copy)
            target = copy / name
            if old is None:
                with target.open("a") as f:
                    f.write(new)
            else:
                text = target.read_text()
                expect(old in text, f"{name} has no {old!r} to break")
                target.write_text(text.replace(old, new, 1))
            syntax, linted = lint(copy)
            result = syntax if which == "syntax" else linted
            output = result.stdout + result.stderr
        if result.returncode != 0 and expected in output:
            log(f"{what}: refused by {'--syntax-check' if which == 'syntax' else 'ansible-lint'} ({expected})")
        else:
            log(f"{what}: not refused as expected (exit {result.returncode}):\n{output}")
            failures += 1
    return 1 if failures else 0


# --- apply ------------------------------------------------------------------------------

class Host:
    """The container, the network namespace and Prometheus; close() removes them."""

    def __init__(self, work):
        self.work = work
        self.container = f"assets-ansible-test-{os.getpid()}"
        self.netns = f"assets-ansible-{os.getpid()}"
        self.prometheus = None
        self.started = False

    def inside(self, *argv, check=True, timeout=120):
        return run([*PODMAN, "exec", self.container, *argv], check=check, timeout=timeout)

    def start(self, image):
        (CACHE / "apt-archives/partial").mkdir(parents=True, exist_ok=True)
        # NET_ADMIN: ufw's iptables rules, in the container's own network namespace. The
        # default network gives it the Debian mirror for apt.
        self.started = True
        run([*PODMAN, "run", "-d", "--name", self.container, "--systemd=always", "--cap-add", "NET_ADMIN",
             "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
             "-v", f"{CACHE / 'apt-archives'}:/var/cache/apt/archives", image, "/sbin/init"])
        state = ""
        for _ in range(60):
            state = self.inside("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        expect(state in ("running", "degraded"), f"systemd in the container did not come up: {state}")

    def connect(self):
        """A veth from a namespace of the test into the container: Prometheus' side has
        PROMETHEUS_IP (the address the role allows) and OTHER_IP (any other host)."""
        pid = run([*PODMAN, "inspect", "-f", "{{.State.Pid}}", self.container]).stdout.strip()
        outside, inside = f"aat{os.getpid()}o", f"aat{os.getpid()}i"
        run(["ip", "netns", "add", self.netns])
        run(["ip", "link", "add", outside, "netns", self.netns, "type", "veth", "peer", "name", inside,
             "netns", pid])
        ns = ["ip", "netns", "exec", self.netns]
        run([*ns, "ip", "link", "set", "lo", "up"])
        run([*ns, "ip", "addr", "add", f"{PROMETHEUS_IP}/24", "dev", outside])
        run([*ns, "ip", "addr", "add", f"{OTHER_IP}/24", "dev", outside])
        run([*ns, "ip", "link", "set", outside, "up"])
        run(["nsenter", "-t", pid, "-n", "ip", "addr", "add", f"{AGENT_IP}/24", "dev", inside])
        run(["nsenter", "-t", pid, "-n", "ip", "link", "set", inside, "up"])

    def from_netns(self, *argv, check=True, timeout=30):
        return run(["ip", "netns", "exec", self.netns, *argv], check=check, timeout=timeout)

    def close(self, failed):
        if self.prometheus is not None:
            self.prometheus.terminate()
            try:
                self.prometheus.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.prometheus.kill()
                self.prometheus.wait()
        if self.started:
            if failed:
                journal = self.inside("journalctl", "-u", "assets-agent", "--no-pager", "-n", "25", check=False)
                print(f"--- the agent's journal in the container:\n{journal.stdout}{journal.stderr}", file=sys.stderr)
            run([*PODMAN, "rm", "-f", "-t", "0", self.container], check=False)
        run(["ip", "netns", "del", self.netns], check=False)


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP, and its lines."""
    hosts, lines = {}, []
    for match in RECAP.finditer(output):
        keys = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
        hosts[match.group(1)] = dict(zip(keys, map(int, match.groups()[1:])))
        lines.append(" ".join(match.group(0).split()))
    return hosts, lines


def write_inventory(source, work, deb, container, scrape_token):
    """The example inventory's group_vars (all, staging), this test's host_vars, and the
    staging vault encrypted with a password file."""
    inventory = work / "inventory"
    example = source / "deploy/ansible/inventory/group_vars"
    for group in ("all", "staging"):
        shutil.copytree(example / group, inventory / "group_vars" / group)
    (inventory / "group_vars/all/vault.yml.example").unlink()
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "assets_hosts": {"children": {"staging": {"hosts": {"agent-staging": None}}}},
        "monitoring": {"hosts": {"prometheus-test": None}},
    }}}))
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars/agent-staging.yml").write_text(yaml.safe_dump({
        # Ansible's podman connection; podman exec runs as root (the image has no sudo).
        "ansible_connection": "containers.podman.podman",
        "ansible_host": container,
        "ansible_podman_extra_args": " ".join(PODMAN[1:]),
        "ansible_become": False,
        "assets_agent_deb": str(deb),
        "assets_agent_listen_addresses": [f":{PORT}"],
        "assets_agent_scrape_address": f"{AGENT_IP}:{PORT}",
        "assets_agent_file_sd_dir": str(work / "file_sd"),
        "assets_agent_ufw_enable": True,
    }))
    # The controller as the central Prometheus: the role's default takes the address the
    # firewall allows from its ansible_host.
    (inventory / "host_vars/prometheus-test.yml").write_text(yaml.safe_dump({
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "ansible_host": PROMETHEUS_IP,
        "ansible_become": False,
    }))
    values = {
        "vault_assets_agent_db_monitor_password": f"db-{secrets.token_hex(12)}",
        "vault_assets_agent_admin_api_token": f"api-{secrets.token_hex(12)}",
        "vault_assets_agent_scrape_token": scrape_token,
    }
    vault = inventory / "group_vars/staging/vault.yml"
    vault.write_text(yaml.safe_dump(values))
    password = work / "vault-password"
    password.write_text(secrets.token_hex(16) + "\n")
    password.chmod(0o600)
    run(["ansible-vault", "encrypt", "--vault-password-file", password, vault])
    expect(vault.read_text().startswith("$ANSIBLE_VAULT;"), "the vault is not encrypted")
    return inventory, password, values


def playbook(source, work, inventory, password, name, *extra):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_CONFIG=str(source / "deploy/ansible/ansible.cfg"),
               ANSIBLE_LOCAL_TEMP=str(work / "ansible-tmp"), ANSIBLE_HOST_KEY_CHECKING="0")
    started = time.monotonic()
    result = run(["ansible-playbook", "-i", inventory / "hosts.yml", "--vault-password-file", password,
                  "--diff", *extra, "site.yml"],
                 cwd=source / "deploy/ansible", env=env, check=False, timeout=600)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    (work / f"{name}.log").write_text(output)
    hosts, lines = recap(output)
    for line in lines:
        log(f"{name} ({seconds:.0f} s): {line}")
    for line in output.splitlines():
        if line.startswith(("[WARNING]", "[DEPRECATION")):
            log(f"{name}: {line}")
    return result.returncode, output, hosts


def changed_tasks(output):
    """The tasks that reported a change, from the default callback's output."""
    names, current = [], None
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            current = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif line.startswith("changed:") and current:
            names.append(current)
    return names


def status_text(host):
    return host.inside("systemctl", "show", "-p", "StatusText", "--value", "assets-agent").stdout.strip()


def main_pid(host):
    return host.inside("systemctl", "show", "-p", "MainPID", "--value", "assets-agent").stdout.strip()


def check_apply(source, package_dir, work):
    need("ansible-playbook", "ansible-vault", "podman", "runc", "debootstrap", "ip", "nsenter", "curl",
         "prometheus", "dpkg-parsechangelog")
    if yaml is None:
        raise Missing(f"the yaml module for {sys.executable} (python3-yaml)")
    version = run(["dpkg-parsechangelog", "-l", source / "debian/changelog", "-S", "Version"]).stdout.strip()
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    deb = Path(package_dir).resolve() / f"assets-agent_{version}_{arch}.deb"
    if not deb.is_file():
        raise Missing(f"{deb} (`make package` builds it)")
    image = run([source / "tests/tools/debian-base-image.sh", "systemd"], timeout=1800, check=False)
    if image.returncode != 0:
        raise Missing(f"the Debian 12 base image: {image.stderr.strip()}")
    image = image.stdout.strip()

    host = Host(work)
    failed = True
    try:
        log(f"starting {image} with systemd as {host.container}")
        host.start(image)
        # What Ansible needs on the host; python3-apt the apt module installs itself.
        host.inside("apt-get", "update", "-qq", timeout=300)
        host.inside("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq",
                    "--no-install-recommends", "python3", timeout=300)
        host.connect()
        scrape_token = secrets.token_hex(16)
        inventory, password, values = write_inventory(source, work, deb, host.container, scrape_token)

        code, output, hosts = playbook(source, work, inventory, password, "run 1")
        expect(code == 0, f"run 1 exited {code}:\n{output[-6000:]}")
        expect(hosts.get("agent-staging", {}).get("changed", 0) > 0, "run 1 changed nothing")

        code, output, hosts = playbook(source, work, inventory, password, "run 2")
        expect(code == 0, f"run 2 exited {code}:\n{output[-6000:]}")
        # The tasks delegated to prometheus-test are counted as agent-staging's.
        expect(set(hosts) == {"agent-staging"}, f"run 2's recap: {hosts}")
        expect(all(h["changed"] == 0 and h["failed"] == 0 for h in hosts.values()),
               f"run 2 is not idempotent, changed: {changed_tasks(output)}")
        log("run 2: no change (idempotent)")

        check_service(host, version, scrape_token)
        check_files(host, work, values)
        check_firewall(host, scrape_token)
        check_prometheus(host, work, scrape_token)
        check_reload(source, work, inventory, password, host)
        failed = False
        return 0
    finally:
        host.close(failed)


def check_service(host, version, scrape_token):
    expect(host.inside("systemctl", "is-active", "assets-agent", check=False).stdout.strip() == "active",
           "assets-agent.service is not active")
    expect(host.inside("systemctl", "is-enabled", "assets-agent", check=False).stdout.strip() == "enabled",
           "assets-agent.service is not enabled")
    expect("--web.config.file=/etc/assets-agent/web.yml" in host.inside("cat", "/etc/default/assets-agent").stdout,
           "ARGS has no --web.config.file")
    base = f"http://127.0.0.1:{PORT}"
    for _ in range(30):
        if host.inside("curl", "-fs", "-o", "/dev/null", f"{base}/healthz", check=False).returncode == 0:
            break
        time.sleep(1)
    code = host.inside("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/healthz").stdout
    expect(code == "200", f"/healthz (unauthenticated_paths) answered {code}")
    code = host.inside("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/metrics").stdout
    expect(code == "401", f"/metrics without the token answered {code}")
    metrics = host.inside("curl", "-fsS", "-H", f"Authorization: Bearer {scrape_token}", f"{base}/metrics").stdout
    expect(re.search(rf'^assets_agent_build_info{{.*version="{re.escape(version)}"', metrics, re.M),
           "/metrics has no assets_agent_build_info of this version")
    expect(re.search(r'^assets_check_timeout_seconds{check="admin-api"}', metrics, re.M),
           "/metrics has no admin-api check: not the inventory's configuration")
    log(f"the service: active, enabled, /metrics with the vault's token ({len(metrics.splitlines())} lines), 401 without")


def check_files(host, work, values):
    secrets_dir = "/etc/assets-agent/secrets"
    for name, key in (("db_monitor_password", "vault_assets_agent_db_monitor_password"),
                      ("assets_monitor_token", "vault_assets_agent_admin_api_token"),
                      ("scrape_token", "vault_assets_agent_scrape_token")):
        stat = host.inside("stat", "-c", "%a %U %G", f"{secrets_dir}/{name}").stdout.split()
        expect(stat == ["640", "root", "assets-agent"], f"{secrets_dir}/{name}: {stat}")
        expect(host.inside("cat", f"{secrets_dir}/{name}").stdout == values[key], f"{name}: not the vault's value")
    configs = {path: host.inside("cat", path).stdout
               for path in ("/etc/assets-agent/assets-agent.yml", "/etc/assets-agent/web.yml", "/etc/default/assets-agent")}
    for path, text in configs.items():
        for value in values.values():
            expect(value not in text, f"a secret's value is in {path}")
    config = yaml.safe_load(configs["/etc/assets-agent/assets-agent.yml"])
    checks = {check["name"]: check for check in config["health"]}
    expect(checks["postgres"].get("password_file") == f"{secrets_dir}/db_monitor_password", f"postgres: {checks['postgres']}")
    expect(checks["proxy"]["url"] == "https://staging.assets.example.com/healthz", f"proxy: {checks['proxy']}")
    web = yaml.safe_load(configs["/etc/assets-agent/web.yml"])
    expect(web == {"bearer_token_file": f"{secrets_dir}/scrape_token", "unauthenticated_paths": ["/healthz"]}, f"web.yml: {web}")
    host.inside("assets-agent", "config", "check", "--config.file", "/etc/assets-agent/assets-agent.yml",
                "--web.config.file", "/etc/assets-agent/web.yml")
    entries = sorted((work / "file_sd").iterdir())
    expect([e.name for e in entries] == ["assets-agent-agent-staging.yml"], f"file_sd: {entries}")
    entry = yaml.safe_load(entries[0].read_text())
    expect(entry == [{"targets": [f"{AGENT_IP}:{PORT}"], "labels": {"env": "staging"}}], f"file_sd entry: {entry}")
    log("secrets: 0640 root:assets-agent, the vault's values, in no configuration file; file_sd entry: "
        f"{entry}")


def ufw_rules(host):
    status = host.inside("ufw", "status").stdout
    expect(status.startswith("Status: active"), f"ufw is not active:\n{status}")
    # "9842/tcp   ALLOW   198.18.0.1   # comment" -> "9842/tcp ALLOW 198.18.0.1"
    return [" ".join(line.split(" # ")[0].split()) for line in status.splitlines() if line.startswith(f"{PORT}/tcp")]


def check_firewall(host, scrape_token):
    rules = ufw_rules(host)
    expect(rules == [f"{PORT}/tcp ALLOW {PROMETHEUS_IP}", f"{PORT}/tcp DENY Anywhere",
                     f"{PORT}/tcp (v6) DENY Anywhere (v6)"], f"ufw rules: {rules}")
    url = f"http://{AGENT_IP}:{PORT}/metrics"
    auth = ["-H", f"Authorization: Bearer {scrape_token}"]
    allowed = host.from_netns("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                              "--interface", PROMETHEUS_IP, *auth, url, check=False)
    expect(allowed.stdout == "200", f"from the Prometheus address {PROMETHEUS_IP}: {allowed.stdout} {allowed.stderr}")
    denied = host.from_netns("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3",
                             "--interface", OTHER_IP, *auth, url, check=False)
    expect(denied.returncode == 28 and denied.stdout == "000",
           f"from {OTHER_IP} (not Prometheus): exit {denied.returncode}, {denied.stdout}: not dropped")
    log(f"ufw: {rules}; from {PROMETHEUS_IP} 200, from {OTHER_IP} dropped (curl timed out)")


def check_prometheus(host, work, scrape_token):
    """Prometheus 2.42 in the test's namespace, its job fed by the file_sd folder the role
    wrote, authenticating with the vault's token."""
    (work / "prometheus-token").write_text(scrape_token)
    (work / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{
            "job_name": "assets-agent",
            "authorization": {"credentials_file": str(work / "prometheus-token")},
            "file_sd_configs": [{"files": [str(work / "file_sd/*.yml")], "refresh_interval": "1s"}],
        }],
    }))
    listen = f"{PROMETHEUS_IP}:9090"
    host.prometheus = subprocess.Popen(
        ["ip", "netns", "exec", host.netns, "prometheus", f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address={listen}"],
        stdout=subprocess.DEVNULL, stderr=(work / "prometheus.log").open("w"))
    query = f"http://{listen}/api/v1/query?query=up"
    result = []
    for _ in range(40):
        answer = host.from_netns("curl", "-fs", "--max-time", "2", query, check=False)
        if answer.returncode == 0:
            result = json.loads(answer.stdout)["data"]["result"]
            if result and result[0]["value"][1] == "1":
                break
        time.sleep(0.5)
    expect(len(result) == 1 and result[0]["value"][1] == "1",
           f"Prometheus: up = {result}\n{(work / 'prometheus.log').read_text()[-2000:]}")
    labels = result[0]["metric"]
    expect(labels.get("instance") == f"{AGENT_IP}:{PORT}" and labels.get("env") == "staging",
           f"the target's labels: {labels}")
    log(f"Prometheus through the file_sd entry: up{json.dumps(labels, sort_keys=True)} = 1")


def check_reload(source, work, inventory, password, host):
    """A changed configuration is one change and a reload; a refused one changes nothing."""
    pid = main_pid(host)
    # A second Prometheus address too: its allow rule must land before the deny rule.
    changed = {"assets_agent_global": {"interval": "20s", "timeout": "10s", "max_parallel": 8},
               "assets_agent_ufw_allow_from": [PROMETHEUS_IP, SECOND_PROMETHEUS_IP]}
    expected = ["assets_agent : Write the agent's configuration",
                "assets_agent : Allow the Prometheus host to the agent's port",
                "assets_agent : Take the deny rule out to add it after a new allow rule",
                "assets_agent : Deny the agent's port to every other source",
                "assets_agent : Reload assets-agent"]

    # --check --diff first: it shows these changes and makes none.
    before = host.inside("sha256sum", "/etc/assets-agent/assets-agent.yml").stdout
    rules = ufw_rules(host)
    code, output, hosts = playbook(source, work, inventory, password, "run 3 --check",
                                   "--check", "-e", json.dumps(changed))
    expect(code == 0, f"run 3 --check exited {code}:\n{output[-6000:]}")
    tasks = changed_tasks(output)
    # Not the deny rule's adding again: under --check its removal was not made either.
    expect(tasks == [t for t in expected if "Deny" not in t], f"run 3 --check would change: {tasks}")
    expect("+  interval: 20s" in output, "run 3 --check shows no diff of the configuration")
    expect(host.inside("sha256sum", "/etc/assets-agent/assets-agent.yml").stdout == before and ufw_rules(host) == rules,
           "run 3 --check changed the host")
    log(f"run 3 --check: would change {len(tasks)} tasks, changed nothing")
    code, output, hosts = playbook(source, work, inventory, password, "run 3 (interval 20s, a second Prometheus)",
                                   "-e", json.dumps(changed))
    expect(code == 0, f"run 3 exited {code}:\n{output[-6000:]}")
    tasks = changed_tasks(output)
    expect(tasks == expected, f"run 3 changed: {tasks}")
    expect_rules = [f"{PORT}/tcp ALLOW {PROMETHEUS_IP}", f"{PORT}/tcp ALLOW {SECOND_PROMETHEUS_IP}",
                    f"{PORT}/tcp DENY Anywhere", f"{PORT}/tcp (v6) DENY Anywhere (v6)"]
    rules = ufw_rules(host)
    expect(rules == expect_rules, f"ufw rules after run 3: {rules}")
    for _ in range(50):
        if "configuration reloaded" in status_text(host):
            break
        time.sleep(0.2)
    expect("configuration reloaded" in status_text(host), f"status after the reload: {status_text(host)}")
    expect(main_pid(host) == pid, "the agent was restarted, not reloaded")
    expect("interval: 20s" in host.inside("cat", "/etc/assets-agent/assets-agent.yml").stdout, "interval not 20s")
    log(f"run 3: {tasks}; ufw: {rules}; status: {status_text(host)!r}; same PID {pid}")

    before = host.inside("sha256sum", "/etc/assets-agent/assets-agent.yml").stdout
    refused = dict(changed, assets_agent_global={"interval": "20s", "timeout": "30s", "max_parallel": 8})
    code, output, hosts = playbook(source, work, inventory, password, "run 4 (timeout 30s > interval)",
                                   "-e", json.dumps(refused))
    expect(code != 0 and hosts.get("agent-staging", {}).get("failed") == 1, f"run 4 did not fail: {hosts}")
    expect("failed to validate" in output and "must be shorter than interval" in output,
           f"run 4 failed, but not at config check:\n{output[-4000:]}")
    expect(host.inside("sha256sum", "/etc/assets-agent/assets-agent.yml").stdout == before,
           "the refused configuration replaced the file")
    expect(main_pid(host) == pid and host.inside("systemctl", "is-active", "assets-agent").stdout.strip() == "active",
           "the agent did not keep running after the refused configuration")
    log("run 4: refused by `assets-agent config check` (validate:), the file and the agent unchanged")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("lint", "apply") or (sys.argv[1] == "apply" and len(sys.argv) != 4):
        sys.exit("usage: ansible_test.py lint SOURCE_DIR | apply SOURCE_DIR PACKAGE_DIR")
    part, source = sys.argv[1], Path(sys.argv[2]).resolve()
    # ctest's timeout and ^C: clean up as on a failure.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda s, _f: sys.exit(128 + s))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ansible-test.") as work:
        try:
            if part == "lint":
                status = check_lint(source)
            else:
                status = check_apply(source, sys.argv[3], Path(work))
        except Missing as missing:
            if os.environ.get("CI") == "true":
                log(f"required component missing: {missing}")
                return 1
            log(f"component missing (set CI=true to fail instead): {missing}")
            return SKIP
        except Failed as failure:
            log(f"FAIL: {failure}")
            return 1
    log(f"{part}: {'passed' if status == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
