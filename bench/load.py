"""make bench: /metrics under load, and while targets hang.

  load     wrk with 64 connections on /metrics for 60 s while every collector of
           deploy/assets-agent.yml runs on its fixtures: errors (must be 0), p50 and p99,
           and the agent's RSS before and after;
  hanging  200 HTTP checks against a server that accepts and never answers, and 32 idle
           client connections held open on the agent's port: scrape latency (wrk, 4
           connections), which must stay under 50 ms.
"""
import socket
import subprocess
import sys
import time
from pathlib import Path

from common import Processes, free_port, wait_http, wrk
from peers import start_agent

HERE = Path(__file__).resolve().parent


def under_load(work, agent, config, seconds, connections=64):
    with Processes(work) as processes:
        process, port = start_agent(processes, agent, config, work)
        time.sleep(2)
        before = process.memory_kib()
        result = wrk(f"http://127.0.0.1:{port}/metrics", seconds, connections=connections, threads=2)
        time.sleep(5)
        after = process.memory_kib()
    print(f"  load: {result['requests_per_second']:.0f} req/s, p99 {result['p99_seconds'] * 1000:.1f} ms, "
          f"{result['errors']} errors, RSS {before['rss']} -> {after['rss']} KiB", flush=True)
    return {"connections": connections, "seconds": seconds, **result,
            "rss_before_kib": before["rss"], "rss_after_kib": after["rss"],
            "rss_growth_kib": after["rss"] - before["rss"]}


def while_hanging(work, agent, seconds, checks=200, idle_connections=32):
    hang = subprocess.Popen([sys.executable, HERE / "hang_server.py", "--seconds", str(seconds + 60)],
                            stdout=subprocess.PIPE, text=True)
    idle = []
    try:
        hang_port = int(hang.stdout.readline())
        lines = ["global: {interval: 3s, timeout: 2500ms}", "health:"]
        lines += [f"  - {{name: hang-{i:04d}, kind: http, url: 'http://127.0.0.1:{hang_port}/'}}" for i in range(checks)]
        config = work / "hanging.yml"
        config.write_text("\n".join(lines) + "\n")
        with Processes(work) as processes:
            port = free_port()
            process = processes.start("agent-hanging", [agent, "--config.file", config,
                                                        "--web.listen-address", f"127.0.0.1:{port}"])
            wait_http(f"http://127.0.0.1:{port}/-/ready", process=process)
            for _ in range(idle_connections):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            result = wrk(f"http://127.0.0.1:{port}/metrics", seconds, connections=4, threads=1)
    finally:
        for connection in idle:
            connection.close()
        hang.terminate()
        hang.wait(timeout=10)
    print(f"  hanging: {checks} checks hang, {idle_connections} idle connections: scrape p99 "
          f"{result['p99_seconds'] * 1000:.1f} ms, {result['errors']} errors", flush=True)
    return {"hanging_checks": checks, "idle_connections": idle_connections, "seconds": seconds, **result}


def run(work, agent, config, quick):
    return {"under_load": under_load(work, agent, config, 10 if quick else 60),
            "while_hanging": while_hanging(work, agent, 5 if quick else 15)}
