#!/usr/bin/python3
"""docs/benchmarks.md and its plots (docs/benchmarks/*.png) from one results file of
bench/bench.py, and the headline lines of README.md (between its bench markers).

  bench/report.py bench/results/DATE.json
"""
import json
import re
import sys
from pathlib import Path

import matplotlib

from common import growth_exponent

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SOURCE = Path(__file__).resolve().parent.parent
PAGE = SOURCE / "docs/benchmarks.md"
PLOTS = SOURCE / "docs/benchmarks"
README_BEGIN = "<!-- bench:begin (bench/report.py writes these lines) -->"
README_END = "<!-- bench:end -->"
AGENT = "assets-agent"
CEILING = "nginx (the agent's body, static)"


def spread(s, scale=1.0, digits=1):
    """median (min-max) of a summary, scaled."""
    f = f"{{:.{digits}f}}"
    return f"{f.format(s['median'] * scale)} ({f.format(s['min'] * scale)}–{f.format(s['max'] * scale)})"


def ratio(a, b):
    return a / b if b else float("nan")


def verdict(ok):
    return "met" if ok else "**not met**"


def probe_section(probe, lines, headline):
    lines += ["## Probe cost", "",
              f"CPU milliseconds per 1,000 probes at {probe['rate_per_second']} probes/s, every program probing the "
              "same nginx page; probes counted in nginx's access log over windows of "
              f"{probe['window_seconds']} s. blackbox_exporter is driven by `/probe` requests, "
              f"{probe['rate_per_second']} at once every second, as the agent runs its due checks. The floor is "
              "bench/floor/probe_floor.c: libcurl easy handles (HTTP, HTTPS) or a raw socket (TCP), one probe "
              "after the other. nginx resumes no TLS session, so every program pays a full handshake.", "",
              "| probe | blackbox_exporter | floor | assets-agent | agent / blackbox (target ≤ 0.1) | "
              "agent / floor (target ≤ 1.3) |", "|---|---|---|---|---|---|"]
    for kind, row in probe["kinds"].items():
        agent, blackbox, floor = (row[k]["median"] for k in (AGENT, "blackbox_exporter", "floor"))
        to_peer, to_floor = ratio(agent, blackbox), ratio(agent, floor)
        lines.append(f"| {kind} | {spread(row['blackbox_exporter'], 1000)} | {spread(row['floor'], 1000)} | "
                     f"{spread(row[AGENT], 1000)} | {to_peer:.3f} ({verdict(to_peer <= 0.1)}) | "
                     f"{to_floor:.2f} ({verdict(to_floor <= 1.3)}) |")
        headline.append(f"probe {kind}: {to_peer:.3f} × blackbox_exporter's CPU, {to_floor:.2f} × the floor")
    lines += ["", "![CPU per 1,000 probes](benchmarks/probe_cpu.png)", ""]


def scrape_section(scrape, lines, headline):
    programs = scrape["programs"]
    lines += ["## Scrape cost", "",
              f"`/metrics` with {scrape['wrk']}; each program on its own, the agent on deploy/assets-agent.yml "
              "with every collector run and every target healthy. The ceiling is nginx serving the agent's "
              "own body from a file (`gzip_static` for gzip).", "",
              "| program | body (B) | gzip body (B) | plain req/s | plain p50 / p99 (ms) | gzip req/s | "
              "gzip p50 / p99 (ms) |", "|---|---|---|---|---|---|---|"]
    for name, row in programs.items():
        plain, zipped = row["plain"], row["gzip"]
        lines.append(
            f"| {name} | {row['body_bytes']} | {row['gzip_body_bytes'] or 'not offered'} | "
            f"{spread(plain['requests_per_second'], digits=0)} | {plain['p50_seconds']['median'] * 1000:.2f} / "
            f"{plain['p99_seconds']['median'] * 1000:.2f} | {spread(zipped['requests_per_second'], digits=0)} | "
            f"{zipped['p50_seconds']['median'] * 1000:.2f} / {zipped['p99_seconds']['median'] * 1000:.2f} |")
    lines += ["", "| ratio of requests/s | plain | gzip | target |", "|---|---|---|---|"]
    agent = programs[AGENT]
    for name, row in programs.items():
        if name == AGENT:
            continue
        p = ratio(agent["plain"]["requests_per_second"]["median"], row["plain"]["requests_per_second"]["median"])
        g = ratio(agent["gzip"]["requests_per_second"]["median"], row["gzip"]["requests_per_second"]["median"])
        target = f"≥ 0.7: {verdict(min(p, g) >= 0.7)}" if name == CEILING else ""
        lines.append(f"| agent / {name} | {p:.2f} | {g:.2f} | {target} |")
        if name == CEILING:
            headline.append(f"/metrics: {p:.2f} × nginx serving the same body (plain), {g:.2f} × (gzip)")
    lines.append("")


def memory_section(memory, lines, headline):
    programs = memory["programs"]
    lines += ["## Memory", "", f"KiB after {memory['after']}; each program started anew for every repetition. "
              "The library floor is bench/floor/library_floor.cpp: the agent's Debian libraries linked and "
              "initialised (libcurl, OpenSSL, libpq, civetweb with the agent's 64 worker threads, yaml-cpp, RE2, "
              "prometheus-cpp, c-ares, libsystemd, zlib), nothing else.", "",
              "| program | VmRSS | RssAnon | PSS |", "|---|---|---|---|"]
    for name, row in programs.items():
        lines.append(f"| {name} | {spread(row['rss'], digits=0)} | {spread(row['rss_anon'], digits=0)} | "
                     f"{spread(row['pss'], digits=0)} |")
    agent, floor, node = programs[AGENT], programs["library floor"], programs["node_exporter"]
    over_floor = (agent["rss"]["median"] - floor["rss"]["median"]) / 1024
    anon_to_node = ratio(agent["rss_anon"]["median"], node["rss_anon"]["median"])
    peers = ("node_exporter", "blackbox_exporter", "postgres_exporter")
    peers_rss = sum(programs[p]["rss"]["median"] for p in peers)
    peers_pss = sum(programs[p]["pss"]["median"] for p in peers)
    lines += ["",
              f"- the agent is the floor + {over_floor:.1f} MB of VmRSS (target ≤ 2 MB: {verdict(over_floor <= 2)});",
              f"- its RssAnon is {anon_to_node:.2f} × node_exporter's (target ≤ 0.35: {verdict(anon_to_node <= 0.35)});",
              f"- the three peers it replaces on a host (node_exporter, blackbox_exporter, postgres_exporter) hold "
              f"{peers_rss / 1024:.1f} MB of VmRSS together ({peers_pss / 1024:.1f} MB PSS), "
              f"{ratio(peers_rss, agent['rss']['median']):.1f} × the agent's.", ""]
    above = memory.get("agent_above_floor_by_mapping_kib", {})
    if above:
        lines += ["Where the agent's VmRSS above the floor is, by mapping (KiB, from smaps; 64 KiB or more):", "",
                  "| mapping | agent − floor |", "|---|---|"]
        lines += [f"| {name} | {delta:+d} |" for name, delta in above.items()]
        lines.append("")
    headline.append(f"memory: the library floor + {over_floor:.1f} MB; RssAnon {anon_to_node:.2f} × node_exporter's; "
                    f"the three peers it replaces {ratio(peers_rss, agent['rss']['median']):.1f} × its VmRSS")


SERIES_TITLES = {
    "http_checks": ("HTTP checks", {"run_seconds": ("run", "s"), "cpu_seconds": ("CPU per run", "s"),
                                    "rss_kib": ("VmRSS", "KiB")}),
    "certificate_files": ("certificate files", {"cold_run_seconds": ("cold run", "s"),
                                                "cold_cpu_seconds": ("cold CPU", "s"),
                                                "warm_run_seconds": ("warm run", "s"),
                                                "warm_cpu_seconds": ("warm CPU", "s"),
                                                "rss_growth_kib": ("RSS growth", "KiB")}),
    "backup_files": ("backup files", {"run_seconds": ("run", "s"), "cpu_seconds": ("CPU per run", "s"),
                                      "rss_growth_kib": ("RSS growth", "KiB")}),
    "containers": ("containers (Podman)", {"run_seconds": ("run", "s"), "cpu_seconds": ("CPU per run", "s"),
                                           "rss_kib": ("VmRSS", "KiB")}),
}


def cell(s, unit):
    if unit == "s":
        return spread(s, 1000, 2) + " ms"
    return spread(s, digits=0)


def growth(k):
    if k is None:
        return "n/a"
    return f"{k:.2f} ({'linear or better' if k <= 1.1 else '**worse than linear**'})"


def last_step_exponent(s, column):
    """k between the two largest sizes: how the cost grows where it is largest."""
    sizes, values = s["sizes"][-2:], [p["median"] for p in s[column][-2:]]
    return growth_exponent(sizes, values) if len(sizes) == 2 else None


def scaling_section(scaling, lines, headline):
    lines += ["## Scaling", "", "Each cell: median (min–max). The growth exponent k fits value = c · size^k on "
              "the medians (1 is linear, below 1 better; ≤ 1.1 counts as linear given the noise), over all sizes "
              "and between the two largest, where a cost that grows faster than linear would show. A resident "
              "size grows from a fixed base, so its k is low by nature: read its per-item growth.", ""]
    worst = []
    for key, (title, columns) in SERIES_TITLES.items():
        if key not in scaling:
            continue
        s = scaling[key]
        names = [c for c in columns if c in s]
        lines += [f"### {title}", "", "| size | " + " | ".join(columns[c][0] for c in names) + " |",
                  "|---|" + "---|" * len(names)]
        for i, size in enumerate(s["sizes"]):
            lines.append(f"| {size:,} | " + " | ".join(cell(s[c][i], columns[c][1]) for c in names) + " |")
        lines.append("| growth k, all sizes | " + " | ".join(growth(s["exponents"][c]) for c in names) + " |")
        last = {c: last_step_exponent(s, c) for c in names}
        if len(s["sizes"]) > 2:
            lines.append("| growth k, last step | " + " | ".join(growth(last[c]) for c in names) + " |")
        lines.append("")
        for c in names:
            if columns[c][1] == "s" and last[c] is not None:
                worst.append((last[c], f"{title} {columns[c][0]}"))
    lines += ["![scaling](benchmarks/scaling.png)", ""]
    k, name = max(worst)
    headline.append(f"scaling: the steepest time series between its two largest sizes is {name}, k = {k:.2f}")


def load_section(load, lines, headline):
    u, h = load["under_load"], load["while_hanging"]
    lines += ["## Under load", "",
              f"wrk with {u['connections']} connections on `/metrics` for {u['seconds']} s while every collector of "
              "deploy/assets-agent.yml runs:", "",
              "| requests/s | p50 (ms) | p99 (ms) | errors (target 0) | VmRSS before → after (KiB) |",
              "|---|---|---|---|---|",
              f"| {u['requests_per_second']:.0f} | {u['p50_seconds'] * 1000:.2f} | {u['p99_seconds'] * 1000:.2f} | "
              f"{u['errors']} ({verdict(u['errors'] == 0)}) | {u['rss_before_kib']} → {u['rss_after_kib']} "
              f"({u['rss_growth_kib']:+d}) |", "",
              f"While {h['hanging_checks']} HTTP checks hang (a server that accepts and never answers) and "
              f"{h['idle_connections']} idle client connections are held open, wrk (4 connections, {h['seconds']} s): "
              f"p50 {h['p50_seconds'] * 1000:.2f} ms, p99 {h['p99_seconds'] * 1000:.2f} ms "
              f"(target under 50 ms: {verdict(h['p99_seconds'] < 0.05)}), {h['errors']} errors.", ""]
    headline.append(f"under load: {u['errors']} errors at {u['connections']} connections, p99 "
                    f"{u['p99_seconds'] * 1000:.1f} ms; p99 {h['p99_seconds'] * 1000:.1f} ms while checks hang")


def plot_probe(probe):
    kinds = list(probe["kinds"])
    programs = ["blackbox_exporter", AGENT, "floor"]
    figure, axis = plt.subplots(figsize=(7, 3.6))
    width = 0.26
    for i, program in enumerate(programs):
        values = [probe["kinds"][k][program]["median"] * 1000 for k in kinds]
        axis.bar([x + (i - 1) * width for x in range(len(kinds))], values, width, label=program)
    axis.set_xticks(range(len(kinds)), kinds)
    axis.set_ylabel("CPU ms per 1,000 probes")
    axis.set_yscale("log")
    axis.legend()
    axis.set_title(f"Probe CPU at {probe['rate_per_second']} probes/s")
    figure.tight_layout()
    figure.savefig(PLOTS / "probe_cpu.png", dpi=100)
    plt.close(figure)


def plot_scaling(scaling):
    keys = [k for k in SERIES_TITLES if k in scaling]
    figure, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6))
    for axis, key in zip(axes, keys):
        title, columns = SERIES_TITLES[key]
        s = scaling[key]
        for column, (label, unit) in columns.items():
            if unit != "s" or column not in s:
                continue
            axis.plot(s["sizes"], [p["median"] for p in s[column]], marker="o", label=label)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel(title)
        axis.set_ylabel("seconds")
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(PLOTS / "scaling.png", dpi=100)
    plt.close(figure)


def write(results, results_path):
    PLOTS.mkdir(parents=True, exist_ok=True)
    m = results["machine"]
    lines = ["# Benchmarks", "",
             f"Written by `make bench` (bench/bench.py, then bench/report.py) on {results['date']} from "
             f"[{Path(results_path).name}](../bench/results/{Path(results_path).name}): {m['cores']} cores "
             f"({m['cpu']}), {m['memory_kib'] // 1024} MiB, Linux {m['kernel']}, Debian {m['os']}, agent "
             f"{m['agent_revision']}, release build. CPU time from {m['cpu_time_from']}. Every figure is the "
             f"median of {results['repetitions']} repetitions with min–max; the whole run took "
             f"{results['wall_seconds'] / 60:.1f} minutes. Loopback only.", "",
             "Package versions: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v) + ".", ""]
    if results.get("quick"):
        lines += ["**A --quick run: fewer repetitions and sizes; not for comparison.**", ""]
    headline = []
    if "probe" in results:
        probe_section(results["probe"], lines, headline)
        plot_probe(results["probe"])
    if "scrape" in results:
        scrape_section(results["scrape"], lines, headline)
    if "memory" in results:
        memory_section(results["memory"], lines, headline)
    if "scaling" in results:
        scaling_section(results["scaling"], lines, headline)
        plot_scaling(results["scaling"])
    if "load" in results:
        load_section(results["load"], lines, headline)
    notes = SOURCE / "bench/findings.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    PAGE.write_text("\n".join(lines))
    update_readme(headline)
    return PAGE


def update_readme(headline):
    readme = SOURCE / "README.md"
    text = readme.read_text()
    if README_BEGIN not in text:
        return
    block = README_BEGIN + "\n" + "".join(f"- {line}\n" for line in headline) + README_END
    readme.write_text(re.sub(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), lambda _: block, text,
                             flags=re.S))


if __name__ == "__main__":
    path = Path(sys.argv[1])
    print(write(json.loads(path.read_text()), path))
