#!/usr/bin/env python3
"""The series and /metrics body of one host running the shipped configuration, for sizing a
central Prometheus (docs/scaling.md). Not a test: it prints numbers.

  bench/series_per_host.py AGENT_BINARY [--containers N] [--central N,N...] [--json]

deploy/assets-agent.yml as shipped, with its paths and addresses moved onto fixtures of this
script's own, all on loopback, so every target it names is there and healthy (a healthy host
is the steady state; a failing target adds one failure series and drops a few value series):

  - health: the backend, frontend and admin-api checks against an HTTP server answering
    {"status": "ok"}; the proxy check over TLS (a CA of the script's own, server name
    assets.example.com) to openssl s_server; redis against a server answering +PONG; dns-caa
    against dnsmasq serving the CAA record; postgres against a PostgreSQL 15 of its own with
    the role assets_monitor (pg_monitor) and the database assets;
  - containers: a Podman engine of its own (its own store) with N busybox containers (default
    5, the shipped expected_services backend, frontend, db, redis, proxy) labelled as compose
    project assets;
  - backups: pg_dump -Fc of that database as assets_*.dump, an hour old, and a restore-test
    status file; certificates: a fullchain.pem (leaf and intermediate) under live/, and the
    endpoint on openssl s_server; credentials: 4 compose secrets and the CI token;
    maintenance: no window.

Then one scrape after every collector has run: samples, families, bytes plain and gzip'd,
samples per collector (name prefix).

--central 100,1000: then, for each N, a Prometheus (Debian's) scraping that agent as N hosts
(N file_sd targets, each with an instance label of its own, every 15 s as
deploy/prometheus/prometheus.yml) with the rules of alerts/ for 3 minutes: its head series,
samples appended per second, resident memory and Go heap, CPU, the scrape duration and the
time one evaluation of every rule group takes. Memory per series is the
difference between two N over the difference in series, which leaves the fixed cost out.

Loopback and unix sockets only; every wait is bounded; everything it started is stopped
and removed at the end.
"""
import argparse
import contextlib
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import OPENER, SOURCE, free_port, wait_tcp

PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "--events-backend=file",
          "--storage-opt", "overlay.skip_mount_home=true"]
SERVICES = ["backend", "frontend", "db", "redis", "proxy"]
COLLECTORS = ["health", "containers", "backups", "certificates", "credentials", "maintenance", "host"]


def run(argv, timeout=120, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


class Ok(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b'{"status": "ok"}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def pong_server(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(8)

    def serve():
        while True:
            connection, _ = server.accept()
            with connection:
                connection.settimeout(2)
                try:
                    connection.recv(64)
                    connection.sendall(b"+PONG\r\n")
                except OSError:
                    pass
    threading.Thread(target=serve, daemon=True).start()


class Bench:
    def __init__(self, work, agent, containers):
        self.work, self.agent, self.containers = work, agent, containers
        self.processes = []
        self.podman = None
        self.pg = None
        self.started_containers = 0

    def spawn(self, name, argv, **kwargs):
        out = open(self.work / f"{name}.log", "wb")
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
        self.processes.append(process)
        return process

    def close(self):
        if self.podman:
            subprocess.run([*self.podman, "rm", "--force", "--all", "--time", "0"], capture_output=True, timeout=120)
        if self.pg:
            subprocess.run(["runuser", "-u", "postgres", "--", f"{self.pg['bin']}/pg_ctl", "-D", self.pg["data"],
                            "stop", "-m", "fast"], capture_output=True, timeout=60)
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)

    # --- the targets ---------------------------------------------------------------------
    def certificates(self):
        d = self.work / "pki"
        d.mkdir()
        ossl = ["openssl"]
        run([*ossl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
             "-subj", "/CN=Bench Root", "-keyout", d / "root.key", "-out", d / "root.pem"])
        run([*ossl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=Bench R3",
             "-keyout", d / "int.key", "-out", d / "int.csr"])
        (d / "int.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        run([*ossl, "x509", "-req", "-in", d / "int.csr", "-CA", d / "root.pem", "-CAkey", d / "root.key",
             "-CAcreateserial", "-days", "1825", "-extfile", d / "int.ext", "-out", d / "int.pem"])
        run([*ossl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-subj", "/CN=assets.example.com", "-keyout", d / "leaf.key", "-out", d / "leaf.csr"])
        (d / "leaf.ext").write_text("subjectAltName=DNS:assets.example.com\nextendedKeyUsage=serverAuth\n")
        run([*ossl, "x509", "-req", "-in", d / "leaf.csr", "-CA", d / "int.pem", "-CAkey", d / "int.key",
             "-CAcreateserial", "-days", "90", "-extfile", d / "leaf.ext", "-out", d / "leaf.pem"])
        live = self.work / "letsencrypt/live/assets.example.com"
        live.mkdir(parents=True)
        (live / "fullchain.pem").write_text((d / "leaf.pem").read_text() + (d / "int.pem").read_text())
        (live / "README").write_text("excluded by the shipped config\n")
        self.ca = d / "root.pem"
        self.tls_port = free_port()
        self.spawn("s_server", ["openssl", "s_server", "-accept", f"127.0.0.1:{self.tls_port}", "-cert", d / "leaf.pem",
                                "-cert_chain", d / "int.pem", "-key", d / "leaf.key", "-www", "-quiet"])
        wait_tcp(self.tls_port)

    def postgres(self):
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not versions:
            raise SystemExit("PostgreSQL server not installed (postgresql)")
        pg_bin = str(versions[-1].parent)
        d = self.work / "pg"
        d.mkdir()
        shutil.chown(d, "postgres")
        port = free_port()
        as_pg = ["runuser", "-u", "postgres", "--"]
        run([*as_pg, f"{pg_bin}/initdb", "-D", d / "data", "-A", "trust", "-U", "postgres"])
        run([*as_pg, f"{pg_bin}/pg_ctl", "-D", d / "data", "-o", f"-p {port} -k {d} -c listen_addresses=127.0.0.1",
             "-l", d / "log", "-w", "start"])
        self.pg = {"bin": pg_bin, "data": str(d / "data"), "port": port}
        psql = [*as_pg, f"{pg_bin}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
        run([*psql, "-c", "CREATE ROLE assets_monitor LOGIN IN ROLE pg_monitor;"])
        run([*psql, "-c", "CREATE ROLE assets_app LOGIN;"])
        run([*psql, "-c", "CREATE DATABASE assets OWNER assets_app;"])
        run([*psql, "-d", "assets", "-c", "CREATE TABLE items (id serial PRIMARY KEY, name text);"
                                          "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 1000) g;"])
        backups = self.work / "backups"
        backups.mkdir()
        dump = backups / "assets_20261201T020000Z.dump"
        run([f"{pg_bin}/pg_dump", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-Fc", "-f", dump, "assets"])
        an_hour_ago = time.time() - 3600
        os.utime(dump, (an_hour_ago, an_hour_ago))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (backups / "restore-test.json").write_text(json.dumps(
            {"status": "success", "finished_at": now, "last_success_at": now, "backup": dump.name}) + "\n")

    def dns(self):
        self.dns_port = free_port()
        self.spawn("dnsmasq", ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", f"--port={self.dns_port}",
                               "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                               "--user=root", "--pid-file", "--log-facility=-", "--local=/example.com/",
                               "--host-record=assets.example.com,127.0.0.1",
                               "--dns-rr=assets.example.com,257,000569737375656c657473656e63727970742e6f7267"])
        wait_tcp(self.dns_port)

    def engine(self):
        d = self.work / "podman"
        for sub in ("root", "runroot", "tmp", "image/bin"):
            (d / sub).mkdir(parents=True)
        self.podman = [*PODMAN, "--root", str(d / "root"), "--runroot", str(d / "runroot"), "--tmpdir", str(d / "tmp")]
        busybox = shutil.which("busybox") or "/bin/busybox"
        shutil.copy(busybox, d / "image/bin/busybox")
        for applet in ("sh", "sleep"):
            os.symlink("busybox", d / "image/bin" / applet)
        run(["tar", "-C", d / "image", "-cf", d / "image.tar", "."])
        run([*self.podman, "import", "--quiet", d / "image.tar", "localhost/busybox:bench"])
        self.socket = d / "engine.sock"
        self.spawn("podman", [*self.podman, "system", "service", "--time=0", f"unix://{self.socket}"])
        deadline = time.monotonic() + 30
        while not self.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.add_containers(self.containers)

    def add_containers(self, count):
        """`count` more busybox containers, labelled as services of the compose project assets."""
        started = self.started_containers
        for i in range(started, started + count):
            service = SERVICES[i % len(SERVICES)]
            name = f"assets-{service}-{i // len(SERVICES) + 1}"
            run([*self.podman, "run", "-d", "--name", name, "--network=none",
                 "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
                 "--label", "com.docker.compose.project=assets", "--label", f"com.docker.compose.service={service}",
                 "localhost/busybox:bench", "sleep", "3600"], timeout=120)
        self.started_containers = started + count

    def host_facts(self):
        """The facts of a hardened host (recorded in Debian 12, tests/testdata/host), collected now."""
        facts = json.loads((SOURCE / "tests/testdata/host/facts/hardened.json").read_text())
        facts["collected_at"] = facts["apt"]["security_updates_since"] = int(time.time())
        path = self.work / "host-facts.json"
        path.write_text(json.dumps(facts))
        return path

    def config(self):
        text = (SOURCE / "deploy/assets-agent.yml").read_text()
        http_port = free_port()
        server = ThreadingHTTPServer(("127.0.0.1", http_port), Ok)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        redis_port = free_port()
        pong_server(redis_port)
        secrets = self.work / "secrets"
        secrets.mkdir()
        for name in ("db_password", "django_secret_key", "smtp_password", "s3_secret_key"):
            (secrets / name).write_text("stand-in\n")
        (self.work / "ci-deploy.token").write_text("stand-in\n")
        substitutions = [
            ("http://127.0.0.1:8000/", f"http://127.0.0.1:{http_port}/"),
            ("http://127.0.0.1:3000/", f"http://127.0.0.1:{http_port}/"),
            ("url: https://assets.example.com/healthz", f"url: https://127.0.0.1:{self.tls_port}/healthz"),
            ("      server_name: assets.example.com\n      min_version: TLS1.2\n",
             f"      server_name: assets.example.com\n      min_version: TLS1.2\n      ca_file: {self.ca}\n"),
            ("address: 127.0.0.1:6379", f"address: 127.0.0.1:{redis_port}"),
            ("    query_type: CAA\n", f"    query_type: CAA\n    server: 127.0.0.1:{self.dns_port}\n"),
            ("    port: 5432\n", f"    port: {self.pg['port']}\n"),
            ("socket: /var/run/docker.sock", f"socket: {self.socket}"),
            ("/var/backups/assets", str(self.work / "backups")),
            ("/etc/letsencrypt/live/", str(self.work / "letsencrypt/live") + "/"),
            ("    - address: assets.example.com:443\n      server_name: assets.example.com\n",
             f"    - address: 127.0.0.1:{self.tls_port}\n      server_name: assets.example.com\n      ca_file: {self.ca}\n"),
            ("/srv/assets/secrets/*", str(secrets) + "/*"),
            ("/etc/assets-agent/ci-deploy.token", str(self.work / "ci-deploy.token")),
            ("/var/lib/assets-agent/maintenance.json", str(self.work / "maintenance.json")),
            ("/var/lib/assets-agent-host-facts/facts.json", str(self.host_facts())),
        ]
        for old, new in substitutions:
            if old not in text:
                raise SystemExit(f"deploy/assets-agent.yml has no {old!r} any more: update bench/series_per_host.py")
            text = text.replace(old, new)
        leftover = re.findall(r"^(?!\s*#).*(?:example\.com:|/var/|/etc/|/srv/)", text, re.M)
        if leftover:
            raise SystemExit(f"not moved onto fixtures: {leftover}")
        path = self.work / "assets-agent.yml"
        path.write_text(text)
        run([self.agent, "config", "check", "--config.file", path])
        return path


@contextlib.contextmanager
def shipped_host(agent, containers=5):
    """deploy/assets-agent.yml on fixtures of its own (the module's docstring): yields the
    Bench and the config's path; stops and removes everything at the end."""
    work = Path(tempfile.mkdtemp(prefix="shipped-host."))
    os.chmod(work, 0o755)
    bench = Bench(work, os.path.abspath(agent), containers)
    try:
        bench.certificates()
        bench.postgres()
        bench.dns()
        bench.engine()
        yield bench, bench.config()
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)


def scrape(port, encoding=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Accept-Encoding": encoding} if encoding else {})
    with OPENER.open(request, timeout=10) as response:
        return response.read()


def wait_every_collector_healthy(port, work, limit=60):
    """Until every collector of the shipped config has run and no target fails (the backups
    collector runs every 5 m, its first run at start)."""
    deadline = time.monotonic() + limit
    while True:
        body = scrape(port).decode()
        runs = set(re.findall(r"^assets_collector_last_run_timestamp_seconds\{collector=\"(\w+)\"\}", body, re.M))
        healthy = not re.search(r"^assets_(check|cert_target|credential|backup|host_facts)_failure\{", body, re.M)
        if len(runs) >= len(COLLECTORS) and healthy and "assets_postgres" in body:
            return body
        if time.monotonic() > deadline:
            failures = re.findall(r"^assets_\w+_failure\{.*", body, re.M)
            raise SystemExit(f"not every collector ran healthy within {limit} s: runs {sorted(runs)}, "
                             f"failures {failures}\n{(Path(work) / 'agent.log').read_text()[-2000:]}")
        time.sleep(1)


def prometheus_value(port, expression):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with OPENER.open(url, timeout=10) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def central(bench, agent_port, hosts, minutes=3):
    d = bench.work / f"central-{hosts}"
    (d / "file_sd").mkdir(parents=True)
    lines = []
    for i in range(hosts):
        lines += [f"- targets: ['127.0.0.1:{agent_port}']", "  labels:", f"    instance: host-{i:04d}:9842",
                  "    env: production"]
    (d / "file_sd/hosts.yml").write_text("\n".join(lines) + "\n")
    port = free_port()
    (d / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\n  evaluation_interval: 15s\n"
        f"rule_files: ['{SOURCE}/alerts/*.yml']\n"
        "scrape_configs:\n  - job_name: assets-agent\n    file_sd_configs:\n"
        f"      - files: ['{d}/file_sd/*.yml']\n"
        f"  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    process = bench.spawn(f"central-{hosts}", ["prometheus", f"--config.file={d / 'prometheus.yml'}",
                                               f"--storage.tsdb.path={d / 'data'}",
                                               f"--web.listen-address=127.0.0.1:{port}"])
    try:
        wait_tcp(port, 60)
        time.sleep(minutes * 60)
        q = lambda e: prometheus_value(port, e)  # noqa: E731
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": 'max_over_time(prometheus_rule_group_last_duration_seconds{job="prometheus"}[2m])'})
        with OPENER.open(url, timeout=10) as response:
            groups = {re.sub(r".*;", "", s["metric"]["rule_group"]): float(s["value"][1])
                      for s in json.load(response)["data"]["result"]}
        return {
            "rule_groups_seconds": dict(sorted(groups.items(), key=lambda kv: -kv[1])),
            "hosts": hosts,
            "head_series": q('prometheus_tsdb_head_series{job="prometheus"}'),
            "samples_per_second": q('rate(prometheus_tsdb_head_samples_appended_total{job="prometheus"}[1m])'),
            "rss_bytes": q('process_resident_memory_bytes{job="prometheus"}'),
            "heap_inuse_bytes": q('go_memstats_heap_inuse_bytes{job="prometheus"}'),
            "targets_up": q('count(up{job="assets-agent"} == 1)'),
            "scrape_seconds_avg": q('avg(scrape_duration_seconds{job="assets-agent"})'),
            "scrape_seconds_max": q('max(max_over_time(scrape_duration_seconds{job="assets-agent"}[2m]))'),
            "rules_seconds": q('sum(max_over_time(prometheus_rule_group_last_duration_seconds{job="prometheus"}[2m]))'),
            "cpu_cores": q('rate(process_cpu_seconds_total{job="prometheus"}[2m])'),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agent")
    parser.add_argument("--containers", type=int, default=5)
    parser.add_argument("--central", default="", help="N,N...: a Prometheus scraping the agent as N hosts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with shipped_host(args.agent, args.containers) as (bench, config):
        work = bench.work
        port = free_port()
        agent = bench.spawn("agent", [bench.agent, "--config.file", config, "--web.listen-address", f"127.0.0.1:{port}"])
        wait_tcp(port)
        wait_every_collector_healthy(port, work)
        time.sleep(2)
        plain = scrape(port)
        zipped = scrape(port, "gzip")
        if zipped[:2] == b"\x1f\x8b":
            zipped_size = len(zipped)
        else:
            zipped_size = len(gzip.compress(plain))
        samples = [line for line in plain.decode().splitlines() if line and not line.startswith("#")]
        families = [line for line in plain.decode().splitlines() if line.startswith("# TYPE ")]
        by_prefix = {}
        for line in samples:
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            match = re.match(r"assets_(agent|collector|check|postgres|container|backup|cert|credential|maintenance|dns|host)_", name)
            key = match.group(1) if match else name.split("_")[0]
            if key == "assets":
                key = name
            by_prefix[key] = by_prefix.get(key, 0) + 1
        failures = [line for line in samples if re.match(r"assets_\w+_failure\{", line)]
        rss = next((int(l.split()[1]) for l in Path(f"/proc/{agent.pid}/status").read_text().splitlines()
                    if l.startswith("VmRSS")), 0)
        result = {"containers": args.containers, "samples": len(samples), "families": len(families),
                  "body_bytes": len(plain), "gzip_bytes": zipped_size, "agent_rss_kib": rss,
                  "by_prefix": dict(sorted(by_prefix.items(), key=lambda kv: -kv[1])), "failures": failures}
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"deploy/assets-agent.yml on fixtures, {args.containers} containers, every target healthy")
            print(f"samples {len(samples)}  families {len(families)}  body {len(plain)} B  gzip {zipped_size} B  "
                  f"agent RSS {rss} KiB")
            print("by collector: " + ", ".join(f"{k} {v}" for k, v in result["by_prefix"].items()))
            if failures:
                print(f"failing: {failures}")
        runs = [central(bench, port, int(n)) for n in args.central.split(",") if n]
        for r in runs:
            print(f"central, {r['hosts']} hosts every 15 s, after 3 min: head series {r['head_series']:.0f}, "
                  f"{r['samples_per_second']:.0f} samples/s, RSS {r['rss_bytes'] / 2**20:.0f} MiB, "
                  f"heap in use {r['heap_inuse_bytes'] / 2**20:.0f} MiB, {r['targets_up']:.0f} targets up, "
                  f"scrape {r['scrape_seconds_avg'] * 1000:.1f} ms avg / {r['scrape_seconds_max'] * 1000:.1f} ms max, "
                  f"every rule group once {r['rules_seconds'] * 1000:.0f} ms (max), CPU {r['cpu_cores']:.3f} cores")
            print("  rule groups (ms, max): " + ", ".join(f"{g} {s * 1000:.0f}" for g, s in r["rule_groups_seconds"].items()))
        if len(runs) >= 2:
            a, b = runs[0], runs[-1]
            series = b["head_series"] - a["head_series"]
            print(f"per series, between {a['hosts']} and {b['hosts']} hosts: RSS {(b['rss_bytes'] - a['rss_bytes']) / series:.0f} B, "
                  f"heap in use {(b['heap_inuse_bytes'] - a['heap_inuse_bytes']) / series:.0f} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
