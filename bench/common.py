"""What every part of `make bench` shares: processes it starts and stops, what /proc says of
them, wrk, nginx, and the statistics of repetitions. Loopback only; every wait is bounded.
"""
import contextlib
import math
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, limit=30, process=None):
    """Until `url` answers 2xx; fails at once, with the end of its log, if `process` ends."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited {process.popen.returncode}:\n"
                               f"{process.log_path.read_text(errors='replace')[-2000:]}")
        try:
            with OPENER.open(url, timeout=2) as response:
                response.read()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no answer from {url} within {limit} s")


def wait_tcp(port, limit=20):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} within {limit} s")


def http_get(url, headers=None, timeout=10):
    request = urllib.request.Request(url, headers=headers or {})
    with OPENER.open(request, timeout=timeout) as response:
        return response.read()


class Process:
    """A program run for the bench: its output in a log file, stopped (TERM, then KILL) on exit."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.log_path = Path(workdir) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.popen = subprocess.Popen([str(a) for a in argv], stdout=self.log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                                      start_new_session=True, preexec_fn=_raise_open_files_limit)
        self.cgroup = _cpu_cgroup(name, self.popen.pid)

    @property
    def pid(self):
        return self.popen.pid

    def stop(self):
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self.log.close()
        if self.cgroup:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()

    def cpu_seconds(self):
        """The CPU time of the process, every thread it had included: from a cpuacct cgroup
        of its own (nanoseconds) where the machine lets the bench make one, else utime +
        stime from /proc/PID/stat (clock ticks, 10 ms: measure longer)."""
        if self.cgroup:
            return int((self.cgroup / "cpuacct.usage").read_text()) / 1e9
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def memory_kib(self):
        """VmRSS and RssAnon from status, Pss from smaps_rollup, in KiB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        rollup = Path(f"/proc/{self.pid}/smaps_rollup").read_text()
        value = lambda text, key: int(re.search(rf"^{key}:\s+(\d+) kB", text, re.M).group(1))
        return {"rss": value(status, "VmRSS"), "rss_anon": value(status, "RssAnon"), "pss": value(rollup, "Pss")}

    def resident_by_mapping(self):
        """Rss in KiB per mapped file (by its base name) and for anonymous memory, from smaps."""
        totals = {}
        name = None
        for line in Path(f"/proc/{self.pid}/smaps").read_text().splitlines():
            fields = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                path = fields[5] if len(fields) > 5 else ""
                name = Path(path).name if path.startswith("/") else (path or "[anon]")
            elif fields[0] == "Rss:":
                totals[name] = totals.get(name, 0) + int(fields[1])
        return totals


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def cpu_precision():
    """How cpu_seconds() measures on this machine, for the results' machine section."""
    probe = CPUACCT / f"assets-bench-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
        return "cpuacct cgroup (ns)"
    except OSError:
        return "/proc/PID/stat (clock ticks)"


def _cpu_cgroup(name, pid):
    """A cgroup v1 cpuacct group holding only `pid` (threads it starts follow it), or None."""
    group = CPUACCT / f"assets-bench-{name}-{pid}"
    try:
        group.mkdir()
        (group / "cgroup.procs").write_text(str(pid))
        return group
    except OSError:
        with contextlib.suppress(OSError):
            group.rmdir()
        return None


def _raise_open_files_limit():
    # 5,000 checks hold 5,000 sockets at once.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Processes(contextlib.ExitStack):
    """Starts processes and stops every one of them when the block ends."""

    def __init__(self, workdir):
        super().__init__()
        self.workdir = workdir

    def start(self, name, argv, env=None):
        process = Process(name, argv, self.workdir, env)
        self.callback(process.stop)
        return process


def summary(values):
    """The median of the repetitions with their min and max (what every table shows)."""
    values = list(values)
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def wrk(url, seconds, connections=8, threads=2, headers=None):
    """wrk's requests/s, latency p50/p99 (seconds), and errors (socket errors plus non-2xx)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    output = subprocess.run(argv + [url], capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}

    def latency(percent):
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        return float(match.group(1)) * scale[match.group(2)]

    errors = 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if match:
        errors += sum(int(g) for g in match.groups())
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if match:
        errors += int(match.group(1))
    return {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50_seconds": latency(50), "p99_seconds": latency(99), "errors": errors}


def growth_exponent(sizes, values):
    """The exponent k of the least-squares fit value = c * size^k on log-log axes: 1 is
    linear, below 1 better than linear. Needs values above 0."""
    points = [(x, y) for x, y in zip(sizes, values) if x > 0 and y > 0]
    if len(points) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)


def nginx_config(workdir, servers, access_log=True, streams="", workers=1):
    """An nginx.conf of its own (no root paths of the system's nginx) with `servers`: text of
    http server blocks, `streams`: of stream server blocks (Debian's libnginx-mod-stream).
    Its access log (when on) has a line per request or TCP session: time, port, status."""
    workdir = Path(workdir)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / "nginx-temp" / name).mkdir(parents=True, exist_ok=True)
    log = f"access_log {workdir}/access.log bench;" if access_log else "access_log off;"
    stream_module = "load_module /usr/lib/nginx/modules/ngx_stream_module.so;" if streams else ""
    stream_block = (f"stream {{ log_format bench '$msec $server_port $status'; {log} {streams} }}"
                    if streams else "")
    text = f"""
{stream_module}
daemon off;
master_process on;
worker_processes {workers};
worker_rlimit_nofile 65536;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 16384; }}
{stream_block}
http {{
  log_format bench '$msec $server_port $status';
  {log}
  client_body_temp_path {workdir}/nginx-temp/client_body;
  proxy_temp_path {workdir}/nginx-temp/proxy;
  fastcgi_temp_path {workdir}/nginx-temp/fastcgi;
  uwsgi_temp_path {workdir}/nginx-temp/uwsgi;
  scgi_temp_path {workdir}/nginx-temp/scgi;
  default_type application/octet-stream;
  {servers}
}}
"""
    path = workdir / "nginx.conf"
    path.write_text(text)
    return path


def tempdir(prefix):
    """A work folder that other users may enter (PostgreSQL runs as postgres)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
