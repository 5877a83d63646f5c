#!/usr/bin/env python3
"""deploy/host-facts/host-facts.sh on the real tools' answers, replayed.

tests/testdata/host/tools/CASE/ holds what ufw, fail2ban-client, sshd -T, apt-config and
apt-get -s answered on a Debian 12 host in that state (recorded by capture.sh in the
container of tests/package/host_facts_test.sh); stub-tool replays them from a folder that is
the whole PATH, so no tool of this machine is seen. Each case's facts must equal
tests/testdata/host/facts/CASE.json, which tests/unit/host_test.cpp parses with the agent's
own parser. Also: the carry-over of security_updates_since, the file's mode and atomic
replacement, a link at the destination, and a tool that hangs.

  host_facts_script_test.py SOURCE_DIR     (ASSETS_UPDATE_GOLDEN=1 rewrites the .json files)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[2]).resolve()
SCRIPT = SOURCE / "deploy/host-facts/host-facts.sh"
DATA = SOURCE / "tests/testdata/host"
NOW = 1793491200  # 2026-11-01T00:00:00Z
UTILITIES = ["sed", "grep", "head", "tr", "mktemp", "date", "timeout", "cat", "rm", "mv", "chmod", "mkdir",
             "dirname", "basename", "sleep", "sh"]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")


def path_with(tools, folder):
    """A folder that is the whole PATH: the utilities the script needs and the stubs of `tools`."""
    folder.mkdir()
    for name in UTILITIES:
        os.symlink(shutil.which(name), folder / name)
    for name in tools:
        os.symlink(DATA / "stub-tool", folder / name)
    return str(folder)


def run_script(case_dir, output, now=NOW, timeout_seconds=None, tools=None):
    work = Path(tempfile.mkdtemp())
    try:
        installed = tools if tools is not None else (case_dir / "installed").read_text().split()
        env = {"PATH": path_with(installed, work / "bin"), "HOST_FACTS_FIXTURE": str(case_dir),
               "HOST_FACTS_NOW": str(now), "LC_ALL": "C"}
        if timeout_seconds:
            env["HOST_FACTS_TOOL_TIMEOUT"] = str(timeout_seconds)
        result = subprocess.run(["/bin/sh", str(SCRIPT), "--output", str(output)], env=env,
                                capture_output=True, text=True, timeout=120)
        check(result.returncode == 0, f"{case_dir.name}: exit {result.returncode}: {result.stderr}")
        return json.loads(output.read_text())
    finally:
        shutil.rmtree(work)


def main():
    work = Path(tempfile.mkdtemp())
    try:
        cases = sorted(p for p in (DATA / "tools").iterdir() if p.is_dir())
        check({c.name for c in cases} >= {"exposed", "hardened", "patched"}, f"cases: {[c.name for c in cases]}")
        # Every recorded case, and a host with none of the tools.
        runs = [(case.name, case, None) for case in cases] + [("bare", DATA / "tools/hardened", [])]
        for name, case, tools in runs:
            facts = run_script(case, work / f"{name}.json", tools=tools)
            expected_path = DATA / "facts" / f"{name}.json"
            if os.environ.get("ASSETS_UPDATE_GOLDEN") == "1":
                expected_path.write_text(json.dumps(facts, indent=2) + "\n")
            expected = json.loads(expected_path.read_text())
            check(facts == expected, f"{name}: facts differ from {expected_path}:\n{json.dumps(facts, indent=2)}")
            print(f"ok: {name}")

        # Pending since the first run that saw them; kept while some stay pending; gone
        # once none are; a new since when they come back.
        output = work / "since" / "facts.json"
        first = run_script(DATA / "tools/exposed", output, now=NOW)
        check(first["apt"]["security_updates_since"] == NOW, f"since of the first run: {first['apt']}")
        later = run_script(DATA / "tools/exposed", output, now=NOW + 86400)
        check(later["apt"]["security_updates_since"] == NOW, f"since kept a day later: {later['apt']}")
        patched = run_script(DATA / "tools/patched", output, now=NOW + 2 * 86400)
        check("security_updates_since" not in patched["apt"] and patched["apt"]["security_updates"] == 0,
              f"after the updates went in: {patched['apt']}")
        again = run_script(DATA / "tools/exposed", output, now=NOW + 3 * 86400)
        check(again["apt"]["security_updates_since"] == NOW + 3 * 86400, f"a new since: {again['apt']}")
        check(oct(output.stat().st_mode & 0o777) == "0o644", f"mode {oct(output.stat().st_mode)}")
        check([p.name for p in output.parent.iterdir()] == ["facts.json"], "a temporary file was left behind")
        print("ok: security_updates_since carried over, mode 0644, nothing left behind")

        # A link planted at the destination is replaced, and what it pointed at is untouched.
        victim = work / "victim"
        victim.write_text("keep")
        linked = work / "linked" / "facts.json"
        linked.parent.mkdir()
        os.symlink(victim, linked)
        run_script(DATA / "tools/hardened", linked)
        check(not linked.is_symlink() and victim.read_text() == "keep", "the link at the destination was followed")
        print("ok: a link at the destination is replaced, not followed")

        # A tool that hangs is ended by the time limit; only its section says so.
        hanging = work / "hanging"
        shutil.copytree(DATA / "tools/hardened", hanging)
        (hanging / "ufw_status_verbose.sleep").write_text("30")
        started = time.monotonic()
        facts = run_script(hanging, work / "hanging.json", timeout_seconds=1)
        took = time.monotonic() - started
        check(facts["ufw"] == {"installed": True, "answered": False}, f"hanging ufw: {facts['ufw']}")
        check(facts["sshd"]["answered"], "the other tools still answered")
        check(took < 10, f"the run took {took:.1f} s with a tool that hangs")
        print(f"ok: a hanging ufw is ended after the limit ({took:.1f} s)")
    finally:
        shutil.rmtree(work)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
