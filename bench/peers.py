"""make bench: the agent side by side with the Debian peers it is chosen against, and with
the floors that bound it (bench/floor). Three measurements, each figure the median of
REPETITIONS with min and max:

  probe   CPU seconds per 1,000 probes of the agent, blackbox_exporter and the probe floor,
          at the same rate against the same nginx (HTTP, HTTPS, TCP); probes are counted at
          nginx, from its access log, not from either program's figures;
  scrape  /metrics throughput and latency (wrk), plain and gzip, of the agent,
          node_exporter, postgres_exporter, blackbox_exporter and nginx serving the agent's
          own body as a static file (the ceiling), with each body's size;
  memory  VmRSS, RssAnon and PSS after start-up and one run of every collector (peers: one
          scrape, blackbox one probe of each module), each program started REPETITIONS
          times, and the library floor.

The agent runs deploy/assets-agent.yml on the fixtures of series_per_host.py for scrape and
memory, a probe-only configuration for probe. Loopback only.
"""
import concurrent.futures
import gzip
import http.client
import threading
import time

from common import Processes, free_port, http_get, nginx_config, summary, wait_http, wait_tcp, wrk
from series_per_host import run as run_checked
from series_per_host import scrape as scrape_agent
from series_per_host import wait_every_collector_healthy

KINDS = ("http", "https", "tcp")
BLACKBOX_MODULE = {"http": "http_get", "https": "https_get", "tcp": "tcp_connect"}


class Settings:
    def __init__(self, quick):
        self.repetitions = 3 if quick else 5
        self.probe_rate = 100            # probes per second, every program
        self.probe_window = 3 if quick else 6  # seconds per repetition
        self.probe_warmup = 3
        self.scrape_seconds = 2 if quick else 3


# --- the target: nginx on loopback ----------------------------------------------------------
def make_pki(work):
    """A CA and a leaf for 127.0.0.1 (ECDSA P-256, as Let's Encrypt issues)."""
    d = work / "probe-pki"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run_checked(["openssl", "req", "-x509", *ec, "-days", "30", "-subj", "/CN=Bench probe CA",
                 "-keyout", d / "ca.key", "-out", d / "ca.pem"])
    run_checked(["openssl", "req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", d / "leaf.key", "-out", d / "leaf.csr"])
    (d / "leaf.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run_checked(["openssl", "x509", "-req", "-in", d / "leaf.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
                 "-CAcreateserial", "-days", "30", "-extfile", d / "leaf.ext", "-out", d / "leaf.pem"])
    return d


class Nginx:
    """The probe targets (their requests and TCP sessions logged) and the static ceiling
    (not logged), two workers. TLS without session resumption, so that every program pays a
    full handshake per probe, as blackbox_exporter does."""

    def __init__(self, processes, work, pki):
        self.work = work
        self.ports = {kind: free_port() for kind in KINDS}
        self.static_port = free_port()
        self.quiet_port = free_port()
        self.static_root = work / "static"
        self.static_root.mkdir()
        (self.static_root / "metrics").write_bytes(b"")
        servers = f"""
  server {{ listen 127.0.0.1:{self.ports['http']}; location / {{ return 200 "ok\\n"; }} }}
  server {{
    listen 127.0.0.1:{self.ports['https']} ssl;
    ssl_certificate {pki / 'leaf.pem'};
    ssl_certificate_key {pki / 'leaf.key'};
    ssl_session_cache off;
    ssl_session_tickets off;
    location / {{ return 200 "ok\\n"; }}
  }}
  server {{ listen 127.0.0.1:{self.quiet_port}; access_log off; location / {{ return 200 "ok\\n"; }} }}
  server {{
    listen 127.0.0.1:{self.static_port};
    access_log off;
    keepalive_timeout 0;
    root {self.static_root};
    location = /metrics {{ default_type "text/plain; version=0.0.4; charset=utf-8"; gzip_static on; }}
  }}
"""
        streams = f"server {{ listen 127.0.0.1:{self.ports['tcp']}; return \"ok\\n\"; }}"
        config = nginx_config(work, servers, streams=streams, workers=2)
        self.process = processes.start("nginx", ["nginx", "-c", config, "-p", work])
        wait_http(f"http://127.0.0.1:{self.ports['http']}/", process=self.process)
        self.log = work / "access.log"

    def target(self, kind):
        """What a prober is given for that kind: host:port (tcp) or a URL."""
        port = self.ports[kind]
        return f"127.0.0.1:{port}" if kind == "tcp" else f"{kind}://127.0.0.1:{port}/"

    def probes_between(self, kind, start, end):
        """Requests (http, https) or TCP sessions (tcp) nginx logged on that kind's port with a
        time in [start, end] (Unix seconds)."""
        port = str(self.ports[kind])
        count = 0
        with open(self.log) as log:
            for line in log:
                fields = line.split()
                if len(fields) >= 2 and fields[1] == port and start <= float(fields[0]) <= end:
                    count += 1
        return count

    def serve_static(self, body):
        (self.static_root / "metrics").write_bytes(body)
        (self.static_root / "metrics.gz").write_bytes(gzip.compress(body))
        return f"http://127.0.0.1:{self.static_port}/metrics"


# --- probe cost ---------------------------------------------------------------------------
def agent_probe_config(work, kind, nginx, pki, rate):
    """`rate` checks of one kind, every second: the agent's own concurrency (all due checks
    at once)."""
    lines = ["global: {interval: 1s, timeout: 900ms}", "health:"]
    target = nginx.target(kind)
    for i in range(rate):
        if kind == "tcp":
            lines.append(f"  - {{name: probe-{i:04d}, kind: tcp, address: '{target}'}}")
        elif kind == "http":
            lines.append(f"  - {{name: probe-{i:04d}, kind: http, url: '{target}'}}")
        else:
            lines.append(f"  - {{name: probe-{i:04d}, kind: http, url: '{target}', tls: {{ca_file: '{pki / 'ca.pem'}'}}}}")
    path = work / f"agent-probe-{kind}.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def blackbox_config(work, pki):
    path = work / "blackbox.yml"
    path.write_text(f"""modules:
  http_get:
    prober: http
    timeout: 900ms
    http: {{preferred_ip_protocol: ip4}}
  https_get:
    prober: http
    timeout: 900ms
    http:
      preferred_ip_protocol: ip4
      tls_config: {{ca_file: {pki / 'ca.pem'}}}
  tcp_connect:
    prober: tcp
    timeout: 900ms
    tcp: {{preferred_ip_protocol: ip4}}
""")
    return path


class ProbeRequests(threading.Thread):
    """Drives blackbox_exporter as Prometheus would, at the agent's rate and concurrency:
    at the start of every second, `rate` /probe requests at once."""

    def __init__(self, url, rate):
        super().__init__(daemon=True)
        self.url, self.rate = url, rate
        self.stopping = threading.Event()
        self.pool = concurrent.futures.ThreadPoolExecutor(rate)

    def one(self):
        host_port, path = self.url.removeprefix("http://").split("/", 1)
        host, port = host_port.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            connection.request("GET", "/" + path)
            connection.getresponse().read()
        finally:
            connection.close()

    def run(self):
        due = time.monotonic()
        while not self.stopping.is_set():
            futures = [self.pool.submit(self.one) for _ in range(self.rate)]
            concurrent.futures.wait(futures, timeout=5)
            due += 1
            self.stopping.wait(max(0.0, due - time.monotonic()))

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)
        self.pool.shutdown(wait=True, cancel_futures=True)


def measure_probes(process, nginx, kind, settings):
    """CPU seconds per 1,000 probes counted at nginx, one value per window."""
    time.sleep(settings.probe_warmup)
    values, counted = [], []
    for _ in range(settings.repetitions):
        start_wall, start_cpu = time.time(), process.cpu_seconds()
        time.sleep(settings.probe_window)
        end_wall, end_cpu = time.time(), process.cpu_seconds()
        count = nginx.probes_between(kind, start_wall, end_wall)
        if count == 0:
            raise RuntimeError(f"{process.name}: no {kind} probe reached nginx in {settings.probe_window} s; "
                               f"see {process.log_path}")
        counted.append(count)
        values.append((end_cpu - start_cpu) / count * 1000)
    return {**summary(values), "probes_counted": counted}


def probe_cost(work, build_dir, agent, settings, nginx, pki):
    results = {"rate_per_second": settings.probe_rate, "window_seconds": settings.probe_window, "kinds": {}}
    floor = build_dir / "bench/floor/bench_probe_floor"
    blackbox_file = blackbox_config(work, pki)
    for kind in KINDS:
        row = {}
        with Processes(work) as processes:
            config = agent_probe_config(work, kind, nginx, pki, settings.probe_rate)
            port = free_port()
            process = processes.start(f"agent-probe-{kind}", [agent, "--config.file", config,
                                                              "--web.listen-address", f"127.0.0.1:{port}"])
            wait_http(f"http://127.0.0.1:{port}/-/ready", process=process)
            row["assets-agent"] = measure_probes(process, nginx, kind, settings)
        with Processes(work) as processes:
            port = free_port()
            process = processes.start(f"blackbox-probe-{kind}", [
                "prometheus-blackbox-exporter", f"--config.file={blackbox_file}",
                f"--web.listen-address=127.0.0.1:{port}"])
            wait_http(f"http://127.0.0.1:{port}/metrics", process=process)
            driver = ProbeRequests(f"http://127.0.0.1:{port}/probe?module={BLACKBOX_MODULE[kind]}"
                                   f"&target={nginx.target(kind)}",
                                   settings.probe_rate)
            driver.start()
            try:
                row["blackbox_exporter"] = measure_probes(process, nginx, kind, settings)
            finally:
                driver.stop()
        with Processes(work) as processes:
            argv = [floor, kind, nginx.target(kind), settings.probe_rate] + ([pki / "ca.pem"] if kind == "https" else [])
            process = processes.start(f"floor-probe-{kind}", argv)
            row["floor"] = measure_probes(process, nginx, kind, settings)
        results["kinds"][kind] = row
        print(f"  probe {kind}: " + ", ".join(f"{name} {v['median'] * 1000:.1f} ms" for name, v in row.items())
              + " CPU per 1,000 probes", flush=True)
    return results


# --- scrape cost and memory ---------------------------------------------------------------
def body_sizes(url):
    plain = http_get(url)
    zipped = http_get(url, {"Accept-Encoding": "gzip"})
    return len(plain), len(zipped) if zipped[:2] == b"\x1f\x8b" else None, plain


def scrape_one(url, settings):
    plain_bytes, gzip_bytes, body = body_sizes(url)
    row = {"body_bytes": plain_bytes, "gzip_body_bytes": gzip_bytes}
    for mode, headers in (("plain", None), ("gzip", {"Accept-Encoding": "gzip"})):
        runs = [wrk(url, settings.scrape_seconds, headers=headers) for _ in range(settings.repetitions)]
        row[mode] = {key: summary(r[key] for r in runs) for key in ("requests_per_second", "p50_seconds", "p99_seconds")}
        row[mode]["errors"] = sum(r["errors"] for r in runs)
    return row, body


class Peers:
    """node_exporter, postgres_exporter (on the fixture's PostgreSQL) and blackbox_exporter
    (one probe of each module done), each started fresh."""

    def __init__(self, work, pg_port, nginx, pki):
        self.work, self.pg_port, self.nginx = work, pg_port, nginx
        self.blackbox_file = blackbox_config(work, pki)

    def start(self, processes, name):
        port = free_port()
        if name == "node_exporter":
            process = processes.start(name, ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"])
        elif name == "postgres_exporter":
            dsn = f"postgresql://assets_monitor@127.0.0.1:{self.pg_port}/assets?sslmode=disable"
            process = processes.start(name, ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{port}"],
                                      env={"DATA_SOURCE_NAME": dsn})
        else:
            process = processes.start(name, ["prometheus-blackbox-exporter", f"--config.file={self.blackbox_file}",
                                             f"--web.listen-address=127.0.0.1:{port}"])
        url = f"http://127.0.0.1:{port}/metrics"
        wait_http(url, process=process)
        if name == "blackbox_exporter":
            for kind in KINDS:
                http_get(f"http://127.0.0.1:{port}/probe?module={BLACKBOX_MODULE[kind]}&target={self.nginx.target(kind)}")
        http_get(url)
        return process, url


PEERS = ("node_exporter", "postgres_exporter", "blackbox_exporter")


def start_agent(processes, agent, config, work, name="assets-agent"):
    port = free_port()
    process = processes.start(name, [agent, "--config.file", config, "--web.listen-address", f"127.0.0.1:{port}"])
    wait_http(f"http://127.0.0.1:{port}/-/ready", process=process)
    wait_every_collector_healthy(port, work)
    return process, port


def scrape_cost(work, agent, config, settings, nginx, peers):
    programs = {}
    with Processes(work) as processes:
        _, port = start_agent(processes, agent, config, work)
        programs["assets-agent"], body = scrape_one(f"http://127.0.0.1:{port}/metrics", settings)
    programs["nginx (the agent's body, static)"], _ = scrape_one(nginx.serve_static(body), settings)
    for name in PEERS:
        with Processes(work) as processes:
            _, url = peers.start(processes, name)
            programs[name], _ = scrape_one(url, settings)
    for name, row in programs.items():
        print(f"  scrape {name}: {row['plain']['requests_per_second']['median']:.0f} req/s plain, "
              f"{row['gzip']['requests_per_second']['median']:.0f} gzip, body {row['body_bytes']} B", flush=True)
    return {"wrk": "wrk -t2 -c8, no keep-alive at the agent nor at the ceiling", "programs": programs}


def memory(work, build_dir, agent, config, settings, peers):
    readings = {name: [] for name in ("assets-agent", *PEERS, "library floor")}
    mappings = {}
    for _ in range(settings.repetitions):
        with Processes(work) as processes:
            process, _ = start_agent(processes, agent, config, work)
            time.sleep(1)
            readings["assets-agent"].append(process.memory_kib())
            mappings["assets-agent"] = process.resident_by_mapping()
        for name in PEERS:
            with Processes(work) as processes:
                process, _ = peers.start(processes, name)
                time.sleep(1)
                readings[name].append(process.memory_kib())
        with Processes(work) as processes:
            port = free_port()
            process = processes.start("library-floor", [build_dir / "bench/floor/bench_library_floor", port])
            wait_tcp(port)
            time.sleep(1)
            readings["library floor"].append(process.memory_kib())
            mappings["library floor"] = process.resident_by_mapping()
    programs = {name: {key: summary(r[key] for r in values) for key in ("rss", "rss_anon", "pss")}
                for name, values in readings.items()}
    # Where the agent's resident memory above the floor is (the last repetition's smaps).
    agent_map, floor_map = mappings["assets-agent"], mappings["library floor"]
    above_floor = {name: agent_map.get(name, 0) - floor_map.get(name, 0) for name in set(agent_map) | set(floor_map)}
    above_floor = dict(sorted(((n, d) for n, d in above_floor.items() if abs(d) >= 64), key=lambda kv: -kv[1]))
    for name, row in programs.items():
        print(f"  memory {name}: RSS {row['rss']['median']} KiB, RssAnon {row['rss_anon']['median']} KiB, "
              f"PSS {row['pss']['median']} KiB", flush=True)
    return {"after": "start-up and one run of every collector (peers: one scrape; blackbox one probe of each module)",
            "programs": programs, "agent_above_floor_by_mapping_kib": above_floor}


def run(work, build_dir, agent, shipped_config, pg_port, settings, sections, nginx, pki):
    """The sections of `sections` among probe, scrape, memory: their results by name."""
    results = {}
    peers = Peers(work, pg_port, nginx, pki)
    if "probe" in sections:
        results["probe"] = probe_cost(work, build_dir, agent, settings, nginx, pki)
    if "scrape" in sections:
        results["scrape"] = scrape_cost(work, agent, shipped_config, settings, nginx, peers)
    if "memory" in sections:
        results["memory"] = memory(work, build_dir, agent, shipped_config, settings, peers)
    return results
