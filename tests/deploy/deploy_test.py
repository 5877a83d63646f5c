#!/usr/bin/env python3
"""The container image and the compose stack, for real; ctest runs both parts (label deploy).

  deploy_test.py image SOURCE_DIR
    deploy/Dockerfile built with Podman from the local Debian 12 base (both stages), run as
    compose.yml runs it (read-only, no capabilities, the image's user) with a Docker
    Engine's socket, a backup folder and a certificate folder mounted read-only; scraped,
    and its HEALTHCHECK run. Prints the image's size and user.
  deploy_test.py compose SOURCE_DIR
    compose.yml under Debian's Docker Engine with docker-compose: the agent, Prometheus and
    Alertmanager (Grafana has no Debian package, so no image to stand in for it), then the
    agent scraped, Prometheus' rules and its scrape of the agent checked, and Docker's
    health check of the agent seen healthy.

Images come from tests/tools/test-image.sh (cached in Podman's store by a hash of the
source tree; the first build takes minutes). Every request goes to a loopback address in
a container's network namespace (entered with nsenter) or to an engine's unix socket.
A component that is missing or cannot start skips the test (exit 77), or fails it under
CI=true.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import yaml
except ImportError:  # a Python other than Debian's, without python3-yaml: reported as missing
    yaml = None

SKIP = 77
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
# Debian's clients: /usr/local/bin may hold others.
DOCKER = "/usr/bin/docker"
DOCKER_COMPOSE = "/usr/bin/docker-compose"  # 1.29
# Podman refuses rlimits above the defaults on these machines (shared notes).
PODMAN_RUN_LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]
AGENT_PORT = 9842  # the image's, and compose.yml's, in a network namespace of its own
COMPOSE_PROJECT = "assets-agent-test"
# pg_dump's last lines: the backups collector's integrity check looks for them.
PLAIN_DUMP = "-- PostgreSQL database dump\n" + "SELECT 1;\n" * 200 + "--\n-- PostgreSQL database dump complete\n--\n\n"


class Missing(Exception):
    """A component that the test needs is absent or does not start."""


def log(message):
    print(f"deploy_test: {message}", flush=True)


def run(argv, timeout=600, check=True, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def require_programs(*names):
    missing = [name for name in names if shutil.which(name) is None and not os.access(name, os.X_OK)]
    if missing:
        raise Missing(f"{', '.join(missing)} (deploy/install-deps.sh --test)")


def eventually(predicate, limit, what):
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit} s")
        time.sleep(0.5)


def local_image(source, kind):
    """The name of a local image from tests/tools/test-image.sh, built if need be. A build
    that fails is the test's failure (a broken Dockerfile), not a missing component."""
    started = time.monotonic()
    result = subprocess.run([source / "tests/tools/test-image.sh", kind], capture_output=True, text=True, timeout=1500)
    if result.returncode != 0:
        raise AssertionError(f"tests/tools/test-image.sh {kind} exited {result.returncode}:\n{result.stderr[-6000:]}")
    image = result.stdout.strip()
    built = "built" if "building" in result.stderr else "cached"
    log(f"image {image}: {built}, {time.monotonic() - started:.0f} s")
    return image


def http_get(pid, url, timeout=5):
    """GET from inside the network namespace of process `pid`; (status, body), status 0 when nothing answered."""
    result = subprocess.run(["nsenter", "--target", str(pid), "--net", "curl", "--silent", "--max-time", str(timeout),
                             "--noproxy", "*", "--output", "-", "--write-out", "\n%{http_code}", url],
                            capture_output=True, text=True, timeout=timeout + 5)
    body, _, status = result.stdout.rpartition("\n")
    return int(status or 0), body


def parse_metrics(text):
    """[(name, {label: value}, value)] of a Prometheus text exposition."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def sample(samples, name, **labels):
    found = [value for sample_name, sample_labels, value in samples
             if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())]
    if not found:
        raise AssertionError(f"no sample {name}{labels} in the agent's metrics")
    return found[0]


class Fixtures:
    """What the agent's compose config (deploy/compose/assets-agent.yml) reads: a backup
    folder, a Let's Encrypt-style certificate folder and the database password secret.
    Readable by the image's user (10001), as the host's files would be."""

    def __init__(self, root):
        self.root = root
        self.backups = root / "backups"
        self.certificates = root / "letsencrypt"
        self.db_password = root / "db_monitor_password"
        self.grafana_password = root / "grafana_admin_password"
        live = self.certificates / "live" / "assets.example.com"
        live.mkdir(parents=True)
        self.backups.mkdir()
        dump = self.backups / "assets_20250101T020000Z.sql"
        dump.write_text(PLAIN_DUMP)
        an_hour_ago = time.time() - 3600  # past the collector's settle time
        os.utime(dump, (an_hour_ago, an_hour_ago))
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-days", "30", "-subj", "/CN=assets.example.com", "-keyout", str(root / "privkey.pem"),
             "-out", str(live / "fullchain.pem")])
        self.db_password.write_text("not-a-real-password")
        self.grafana_password.write_text("not-a-real-password")
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (root / "privkey.pem").chmod(0o600)

    def check_scrape(self, samples, engine):
        """The agent read the engine, the backups and the certificate through its mounts."""
        assert sample(samples, "assets_container_engine_up") == 1
        sample(samples, "assets_container_engine_info", version=engine.version())
        assert sample(samples, "assets_backup_up", set="postgres") == 1
        assert sample(samples, "assets_backup_files", set="postgres") == 1
        assert sample(samples, "assets_backup_last_verified", set="postgres") == 1
        assert not [s for s in samples if s[0] == "assets_backup_failure"], "a backup failure"
        certificate = "/etc/letsencrypt/live/assets.example.com/fullchain.pem"
        assert sample(samples, "assets_cert_target_up", target=certificate) == 1
        not_after = sample(samples, "assets_cert_not_after_timestamp_seconds", target=certificate,
                           subject_cn="assets.example.com")
        assert 29 * 86400 < not_after - time.time() <= 30 * 86400, not_after


class DockerEngine:
    """Debian's dockerd on a socket and folders of its own, without iptables or a bridge:
    containers get network_mode none (a loopback only) or share another's."""

    def __init__(self):
        # Short: a unix socket's path has at most 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="adk.", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}
        self.process = None

    def __enter__(self):
        require_programs("dockerd", DOCKER)
        self.log_file = open(self.root / "dockerd.log", "w")
        self.process = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
             "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"), "--host", f"unix://{self.socket}"],
            stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            eventually(lambda: self.process.poll() is not None or self.docker("version", check=False).returncode == 0,
                       60, "dockerd answering")
            if self.process.poll() is not None:
                raise Missing(f"dockerd exited {self.process.returncode}:\n{self.log()}")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def docker(self, *args, check=True, timeout=600, **kwargs):
        return run([DOCKER, *args], check=check, timeout=timeout, env=self.env, **kwargs)

    def version(self):
        return self.docker("version", "--format", "{{.Server.Version}}").stdout.strip()

    def log(self):
        return (self.root / "dockerd.log").read_text()[-4000:]

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()
        # containerd's shims outlive dockerd while their containers run: they name our folder.
        for pid in processes_naming(self.root):
            os.kill(pid, signal.SIGKILL)
        # Overlay and netns mounts left under the folders would keep rm from removing them.
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(self.root) + "/")), reverse=True):
            subprocess.run(["umount", "--lazy", mount], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def processes_naming(path):
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(path).encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def check_image(source, work):
    require_programs("podman", "runc", "nsenter", "curl", "openssl")
    image = local_image(source, "agent")
    inspected = json.loads(run(PODMAN + ["image", "inspect", image]).stdout)[0]
    size = inspected["Size"]
    user = inspected["Config"].get("User")
    log(f"image size: {size} bytes ({size / 1e6:.1f} MB); user: {user}")
    assert user == "10001:10001", user
    identity = run(PODMAN + ["run", "--rm", "--network", "none", *PODMAN_RUN_LIMITS, "--entrypoint", "id", image]).stdout
    log(f"the image's user inside: {identity.strip()}")
    assert identity.startswith("uid=10001(assets-agent) gid=10001(assets-agent)"), identity
    healthcheck = inspected.get("Healthcheck") or {}  # Podman has it beside Config, Docker in it
    assert healthcheck.get("Test") == ["CMD", "/usr/bin/assets-agent", "healthcheck"], healthcheck

    fixtures = Fixtures(work / "fixtures")
    name = f"assets-agent-test-{os.getpid()}"
    with DockerEngine() as engine:
        try:
            run(PODMAN + [
                "run", "--detach", "--name", name, "--network", "none", *PODMAN_RUN_LIMITS,
                # As compose.yml runs it.
                "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                "--group-add", str(engine.socket.stat().st_gid),
                "--volume", f"{source}/deploy/compose/assets-agent.yml:/etc/assets-agent/assets-agent.yml:ro",
                "--volume", f"{engine.socket}:/var/run/docker.sock:ro",
                "--volume", f"{fixtures.backups}:/var/backups/assets:ro",
                "--volume", f"{fixtures.certificates}:/etc/letsencrypt:ro",
                "--volume", f"{fixtures.db_password}:/run/secrets/db_monitor_password:ro",
                image, "--config.file=/etc/assets-agent/assets-agent.yml", f"--web.listen-address=:{AGENT_PORT}"])
            pid = run(PODMAN + ["inspect", "--format", "{{.State.Pid}}", name]).stdout.strip()
            eventually(lambda: http_get(pid, f"http://127.0.0.1:{AGENT_PORT}/-/ready")[0] == 200, 60, "the agent ready")
            status, metrics = http_get(pid, f"http://127.0.0.1:{AGENT_PORT}/metrics")
            assert status == 200, status
            fixtures.check_scrape(parse_metrics(metrics), engine)
            log("scraped: the engine, the backup and the certificate are in the metrics")
            # Podman runs health checks from systemd timers, which this machine has not: by hand.
            health = run(PODMAN + ["healthcheck", "run", name], check=False)
            assert health.returncode == 0, f"HEALTHCHECK: {health.stdout}{health.stderr}"
            state = json.loads(run(PODMAN + ["inspect", name]).stdout)[0]["State"]["Health"]
            log(f"HEALTHCHECK: {state['Status']}: {state['Log'][-1]['Output'].strip()}")
            assert state["Status"] == "healthy", state
            run(PODMAN + ["stop", "--time", "10", name])
            exit_code = run(PODMAN + ["inspect", "--format", "{{.State.ExitCode}}", name]).stdout.strip()
            assert exit_code == "0", f"exit code {exit_code} after SIGTERM"
        except BaseException:
            logs = run(PODMAN + ["logs", "--tail", "40", name], check=False)
            print(logs.stdout + logs.stderr, file=sys.stderr)
            raise
        finally:
            run(PODMAN + ["rm", "--force", "--time", "0", name], check=False)


def compose_without_networks(source, destination):
    """compose.yml less what the test's engine cannot give: networks (no bridge; a bridge's
    addresses are not loopback either), published ports and expose, which conflict with
    the network_mode tests/deploy/compose.test.yml sets. docker-compose 1.29 cannot drop
    keys from an override file (`networks` and `network_mode` together are an error), hence
    this copy; everything else of compose.yml is left as it is."""
    compose = yaml.safe_load((source / "compose.yml").read_text())
    for service in compose["services"].values():
        for key in ("networks", "ports", "expose"):
            service.pop(key, None)
    compose.pop("networks", None)
    destination.write_text(yaml.safe_dump(compose, sort_keys=False))


def rule_groups(source):
    groups = []
    for rules in sorted((source / "alerts").glob("*.yml")):
        groups += [group["name"] for group in yaml.safe_load(rules.read_text())["groups"]]
    return sorted(groups)


def check_compose(source, work):
    require_programs("podman", "runc", "nsenter", "curl", "openssl", DOCKER_COMPOSE)
    images = {kind: local_image(source, kind) for kind in ("agent", "prometheus", "alertmanager")}
    fixtures = Fixtures(work / "fixtures")
    file_sd = work / "file_sd"
    file_sd.mkdir(mode=0o755)
    # Prometheus shares the agent's network namespace: the agent is at 127.0.0.1 there.
    (file_sd / "assets-agent-test.yml").write_text(
        yaml.safe_dump([{"targets": [f"127.0.0.1:{AGENT_PORT}"], "labels": {"env": "test"}}]))
    (file_sd / "assets-agent-test.yml").chmod(0o644)
    compose_file = work / "compose.yml"
    compose_without_networks(source, compose_file)

    with DockerEngine() as engine:
        started = time.monotonic()
        archive = work / "images.tar"
        run(PODMAN + ["save", "--multi-image-archive", "--format", "docker-archive", "--output", str(archive),
                      *images.values()])
        engine.docker("load", "--input", str(archive))
        archive.unlink()
        log(f"images loaded into dockerd: {time.monotonic() - started:.0f} s")
        env = {**engine.env,
               "COMPOSE_PROJECT_NAME": COMPOSE_PROJECT,
               "DOCKER_GID": str(engine.socket.stat().st_gid),
               "ASSETS_BACKUP_DIR": str(fixtures.backups),
               "ASSETS_CERTIFICATE_DIR": str(fixtures.certificates),
               "ASSETS_DB_MONITOR_PASSWORD_FILE": str(fixtures.db_password),
               "GRAFANA_ADMIN_PASSWORD_FILE": str(fixtures.grafana_password),
               "TEST_DOCKER_SOCKET": str(engine.socket),
               "TEST_FILE_SD_DIR": str(file_sd),
               "TEST_AGENT_IMAGE": images["agent"],
               "TEST_PROMETHEUS_IMAGE": images["prometheus"],
               "TEST_ALERTMANAGER_IMAGE": images["alertmanager"]}
        compose = [DOCKER_COMPOSE, "--project-directory", str(source), "-f", str(compose_file),
                   "-f", str(source / "tests/deploy/compose.test.yml")]
        try:
            started = time.monotonic()
            run(compose + ["up", "--detach", "--no-build", "assets-agent", "prometheus", "alertmanager"], env=env)
            agent = run(compose + ["ps", "--quiet", "assets-agent"], env=env).stdout.strip()
            pid = engine.docker("inspect", "--format", "{{.State.Pid}}", agent).stdout.strip()
            check_compose_settings(json.loads(engine.docker("inspect", agent).stdout)[0], engine)

            eventually(lambda: http_get(pid, f"http://127.0.0.1:{AGENT_PORT}/-/ready")[0] == 200, 60, "the agent ready")

            # The agent may be ready before compose has started the other two: its first
            # containers run then sees itself alone, and the next one sees them (by events).
            def running_everywhere():
                status, metrics = http_get(pid, f"http://127.0.0.1:{AGENT_PORT}/metrics")
                if status != 200:
                    return None
                found = parse_metrics(metrics)
                try:
                    if all(sample(found, "assets_container_running", project=COMPOSE_PROJECT, service=service) == 1
                           for service in ("assets-agent", "prometheus", "alertmanager")):
                        return found
                except AssertionError:
                    return None
                return None

            samples = eventually(running_everywhere, 60, "the stack's three containers running in the agent's metrics")
            fixtures.check_scrape(samples, engine)
            assert sample(samples, "assets_container_expected_up", service="backend") == 0
            log("scraped: the engine with the stack's containers, the backup and the certificate")

            eventually(lambda: http_get(pid, "http://127.0.0.1:9093/-/ready")[0] == 200, 60, "Alertmanager ready")
            eventually(lambda: http_get(pid, "http://127.0.0.1:9090/-/ready")[0] == 200, 60, "Prometheus ready")
            status, body = http_get(pid, "http://127.0.0.1:9090/api/v1/rules")
            assert status == 200, status
            loaded = sorted(group["name"] for group in json.loads(body)["data"]["groups"])
            assert loaded == rule_groups(source), f"Prometheus loaded {loaded}, alerts/ has {rule_groups(source)}"
            log(f"Prometheus loaded the rule groups of alerts/: {', '.join(loaded)}")

            def agent_scraped():
                query = f'http://127.0.0.1:9090/api/v1/query?query=up%7Bjob%3D%22assets-agent%22%2Cinstance%3D%22127.0.0.1%3A{AGENT_PORT}%22%7D'
                result = json.loads(http_get(pid, query)[1] or "{}").get("data", {}).get("result", [])
                return result and result[0]["value"][1] == "1"
            eventually(agent_scraped, 60, 'Prometheus scraping the agent (up{job="assets-agent"} == 1)')
            log('Prometheus scrapes the agent: up{job="assets-agent"} == 1')

            # Docker runs a HEALTHCHECK first one interval (30 s) after the start.
            eventually(lambda: engine.docker("inspect", "--format", "{{.State.Health.Status}}", agent)
                       .stdout.strip() == "healthy", 60, "Docker's health check of the agent")
            log(f"Docker's HEALTHCHECK of the agent: healthy ({time.monotonic() - started:.0f} s after up)")
        except BaseException:
            print(run(compose + ["logs", "--no-color", "--tail", "30"], env=env, check=False).stdout, file=sys.stderr)
            raise
        finally:
            run(compose + ["down", "--volumes", "--timeout", "10"], env=env, check=False)


def check_compose_settings(container, engine):
    """compose.yml's hardening of the agent is in force, not only written down."""
    host = container["HostConfig"]
    assert container["Config"]["User"] == "10001:10001", container["Config"]["User"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"], host["CapDrop"]
    assert "no-new-privileges:true" in host["SecurityOpt"], host["SecurityOpt"]
    assert host["Memory"] == 256 * 1024 * 1024, host["Memory"]
    assert host["GroupAdd"] == [str(engine.socket.stat().st_gid)], host["GroupAdd"]
    mounts = {mount["Destination"]: mount for mount in container["Mounts"]}
    for path in ("/var/run/docker.sock", "/var/backups/assets", "/etc/letsencrypt",
                 "/etc/assets-agent/assets-agent.yml", "/run/secrets/db_monitor_password"):
        assert path in mounts and not mounts[path]["RW"], f"{path}: {mounts.get(path)}"


def main():
    part, source = sys.argv[1], Path(sys.argv[2]).resolve()
    checks = {"image": check_image, "compose": check_compose}
    if part not in checks:
        sys.exit("usage: deploy_test.py image|compose SOURCE_DIR")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="deploy-test.") as work:
        try:
            if yaml is None:
                raise Missing(f"the yaml module for {sys.executable} (python3-yaml)")
            checks[part](source, Path(work))
        except Missing as missing:
            if os.environ.get("CI") == "true":
                log(f"required component missing: {missing}")
                return 1
            log(f"component missing (set CI=true to fail instead): {missing}")
            return SKIP
    log(f"{part}: passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
