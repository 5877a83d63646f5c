#!/usr/bin/python3
"""make bench: every figure of docs/benchmarks.md in one run, on loopback, on this machine.

  bench/bench.py --build-dir build/release [--quick] [--only probe,scrape,memory,load,scaling]
                 [--output bench/results/DATE.json] [--no-report]

Builds nothing (the Makefile does). Sets up deploy/assets-agent.yml on fixtures of its own
(series_per_host.py: PostgreSQL, Podman with containers, TLS, DNS, backups), nginx as the
probe target and the static ceiling, then runs the parts (peers.py, load.py, scaling.py),
writes the JSON and regenerates docs/benchmarks.md and its plots (report.py). --quick: fewer
repetitions and sizes, to try the bench itself, not to publish.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import scaling  # noqa: E402
from common import SOURCE, Processes, cpu_precision, remove, tempdir  # noqa: E402
from series_per_host import shipped_host  # noqa: E402

SECTIONS = ("probe", "scrape", "memory", "load", "scaling")
PACKAGES = ("prometheus-blackbox-exporter", "prometheus-node-exporter", "prometheus-postgres-exporter", "nginx",
            "wrk", "libcurl4", "libssl3", "libcivetweb1", "libprometheus-cpp-core1.0", "libpq5", "podman",
            "postgresql-15")


def package_versions():
    versions = {}
    for name in PACKAGES:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
        versions[name] = result.stdout if result.returncode == 0 else None
    return versions


def machine():
    memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    revision = subprocess.run(["git", "-C", SOURCE, "describe", "--always", "--dirty"], capture_output=True,
                              text=True).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_kib": memory_kib, "kernel": platform.release(),
            "os": Path("/etc/debian_version").read_text().strip(), "cpu_time_from": cpu_precision(),
            "agent_revision": revision, "packages": package_versions()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=SOURCE / "build/release")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--output", type=Path)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; the parts are {', '.join(SECTIONS)}")
    build_dir = args.build_dir.resolve()
    agent = build_dir / "assets-agent"
    settings = peers.Settings(args.quick)
    date = datetime.date.today().isoformat()
    output = args.output or SOURCE / f"bench/results/{date}{'-quick' if args.quick else ''}.json"
    started = time.monotonic()
    results = {"date": date, "quick": args.quick, "repetitions": settings.repetitions, "machine": machine()}
    print(f"make bench: {', '.join(sections)} on {results['machine']['cores']} cores, "
          f"CPU time from {results['machine']['cpu_time_from']}", flush=True)
    work = tempdir("assets-bench.")
    try:
        with shipped_host(agent) as (bench, shipped_config), Processes(work) as processes:
            pki = peers.make_pki(work)
            nginx = peers.Nginx(processes, work, pki)
            results.update(peers.run(work, build_dir, agent, shipped_config, bench.pg["port"], settings,
                                     sections, nginx, pki))
            if "load" in sections:
                results["load"] = load.run(work, agent, shipped_config, args.quick)
            if "scaling" in sections:
                results["scaling"] = scaling.run(work, build_dir, agent, bench, nginx.quiet_port,
                                                 settings.repetitions, args.quick)
    except BaseException:
        # What was measured before the failure is kept, beside where the results would go.
        output.with_suffix(".partial.json").write_text(json.dumps(results, indent=1) + "\n")
        raise
    finally:
        remove(work)
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"make bench: {results['wall_seconds']} s; results in {output}", flush=True)
    if not args.no_report:
        page = report.write(results, output)
        print(f"make bench: {page}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
