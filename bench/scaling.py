"""make bench: how each collector's cost grows with what it watches. For every size, the run
time, the CPU time per run and the resident memory, each the median of REPETITIONS runs,
and the fitted growth exponent k of value = c * size^k (1 is linear, below 1 better).

  http_checks        10, 100, 1,000, 5,000 HTTP checks against nginx (the agent's process)
  certificate_files  100, 1,000, 10,000 certbot-like fullchain files, cold and warm
                     (certificates_bench: the collector in-process)
  backup_files       1,000, 10,000, 100,000 pg_dump files (backups_bench)
  containers         10 and 50 real Podman containers through the Docker API (the agent)
"""
import re
import subprocess
import time

from common import Processes, free_port, growth_exponent, http_get, summary, wait_http

COLLECTOR_DURATION = r'^assets_collector_duration_seconds\{{collector="{}"\}} (\S+)$'


def measure_agent(process, port, collector, interval, repetitions):
    """The agent's CPU per run (a reading of its CPU every interval, no scrape in between:
    each interval holds one run), then the run time and RSS after each of `repetitions`
    more runs."""
    time.sleep(2 * interval)  # the first runs: connections, caches, allocator arenas
    cpu = []
    previous = process.cpu_seconds()
    for _ in range(repetitions):
        time.sleep(interval)
        now = process.cpu_seconds()
        cpu.append(now - previous)
        previous = now
    durations, rss = [], []
    for _ in range(repetitions):
        time.sleep(interval)
        body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=30).decode()
        durations.append(float(re.search(COLLECTOR_DURATION.format(collector), body, re.M).group(1)))
        rss.append(process.memory_kib()["rss"])
    return {"run_seconds": summary(durations), "cpu_seconds": summary(cpu), "rss_kib": summary(rss)}


def series(sizes, points, keys):
    """Points by size -> {sizes, key: [summaries], exponents: {key: k}}."""
    result = {"sizes": sizes, "exponents": {}}
    for key in keys:
        result[key] = [points[size][key] for size in sizes]
        result["exponents"][key] = growth_exponent(sizes, [p["median"] for p in result[key]])
    return result


def http_checks(work, agent, nginx_port, sizes, repetitions):
    points = {}
    for size in sizes:
        interval = 2 if size <= 1000 else 3
        lines = [f"global: {{interval: {interval}s, timeout: {interval * 1000 - 500}ms}}", "health:"]
        lines += [f"  - {{name: check-{i:05d}, kind: http, url: 'http://127.0.0.1:{nginx_port}/'}}" for i in range(size)]
        config = work / f"scaling-http-{size}.yml"
        config.write_text("\n".join(lines) + "\n")
        with Processes(work) as processes:
            port = free_port()
            process = processes.start(f"agent-http-{size}", [agent, "--config.file", config,
                                                             "--web.listen-address", f"127.0.0.1:{port}"])
            wait_http(f"http://127.0.0.1:{port}/-/ready", limit=60, process=process)
            points[size] = measure_agent(process, port, "health", interval, repetitions)
        print(f"  scaling {size} HTTP checks: run {points[size]['run_seconds']['median'] * 1000:.1f} ms, "
              f"CPU {points[size]['cpu_seconds']['median'] * 1000:.1f} ms, RSS {points[size]['rss_kib']['median']} KiB",
              flush=True)
    return series(sizes, points, ("run_seconds", "cpu_seconds", "rss_kib"))


def containers(work, agent, bench, sizes, repetitions):
    """The fixture's Podman engine, grown to each size; the agent watches only containers."""
    points = {}
    for size in sizes:
        bench.add_containers(size - bench.started_containers)
        config = work / f"scaling-containers-{size}.yml"
        config.write_text(f"global: {{interval: 2s, timeout: 1500ms}}\ncontainers:\n  socket: {bench.socket}\n"
                          "  include_labels: {com.docker.compose.project: assets}\n  max_containers: 500\n")
        with Processes(work) as processes:
            port = free_port()
            process = processes.start(f"agent-containers-{size}", [agent, "--config.file", config,
                                                                   "--web.listen-address", f"127.0.0.1:{port}"])
            wait_http(f"http://127.0.0.1:{port}/-/ready", process=process)
            points[size] = measure_agent(process, port, "containers", 2, repetitions)
        print(f"  scaling {size} containers: run {points[size]['run_seconds']['median'] * 1000:.1f} ms, "
              f"CPU {points[size]['cpu_seconds']['median'] * 1000:.1f} ms", flush=True)
    return series(sizes, points, ("run_seconds", "cpu_seconds", "rss_kib"))


def in_process(argv, pattern):
    output = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=900).stdout
    runs = [m.groupdict() for m in re.finditer(pattern, output, re.M)]
    if not runs:
        raise RuntimeError(f"{argv[0]} printed no run line:\n{output}")
    return runs


def certificate_files(build_dir, work, sizes, repetitions):
    points = {}
    pattern = (r"^run \d+: cold wall=(?P<cold_wall>\S+)s cpu=(?P<cold_cpu>\S+)s warm wall=(?P<warm_wall>\S+)s "
               r"cpu=(?P<warm_cpu>\S+)s .* rss_growth=(?P<rss>-?\d+)KiB$")
    for size in sizes:
        runs = in_process([build_dir / "tests/certificates_bench", size, repetitions, work / "certificates-bench"],
                          pattern)
        points[size] = {"cold_run_seconds": summary(float(r["cold_wall"]) for r in runs),
                        "cold_cpu_seconds": summary(float(r["cold_cpu"]) for r in runs),
                        "warm_run_seconds": summary(float(r["warm_wall"]) for r in runs),
                        "warm_cpu_seconds": summary(float(r["warm_cpu"]) for r in runs),
                        "rss_growth_kib": summary(int(r["rss"]) for r in runs)}
        print(f"  scaling {size} certificate files: cold CPU {points[size]['cold_cpu_seconds']['median']:.3f} s, "
              f"warm {points[size]['warm_cpu_seconds']['median']:.3f} s", flush=True)
    return series(sizes, points, ("cold_run_seconds", "cold_cpu_seconds", "warm_run_seconds", "warm_cpu_seconds",
                                  "rss_growth_kib"))


def backup_files(build_dir, sizes, repetitions):
    points = {}
    pattern = r"^run \d+: files=\d+ wall=(?P<wall>\S+)s cpu=(?P<cpu>\S+)s rss_growth=(?P<rss>-?\d+)KiB$"
    for size in sizes:
        runs = in_process([build_dir / "tests/backups_bench", size, repetitions], pattern)
        points[size] = {"run_seconds": summary(float(r["wall"]) for r in runs),
                        "cpu_seconds": summary(float(r["cpu"]) for r in runs),
                        "rss_growth_kib": summary(int(r["rss"]) for r in runs)}
        print(f"  scaling {size} backup files: CPU {points[size]['cpu_seconds']['median']:.3f} s", flush=True)
    return series(sizes, points, ("run_seconds", "cpu_seconds", "rss_growth_kib"))


def run(work, build_dir, agent, bench, nginx_port, repetitions, quick):
    return {
        "http_checks": http_checks(work, agent, nginx_port, [10, 100, 1000] if quick else [10, 100, 1000, 5000],
                                   repetitions),
        "certificate_files": certificate_files(build_dir, work, [100, 1000, 10000], repetitions),
        "backup_files": backup_files(build_dir, [1000, 10000, 100000], repetitions),
        "containers": containers(work, agent, bench, [10] if quick else [10, 50], repetitions),
    }
