#!/usr/bin/env python3
"""Lints the monitoring bundle; run by ctest.

    lint_monitoring.py dashboards  SOURCE_DIR   Grafana dashboards: valid JSON, unique uids,
                                                a prometheus `datasource` variable used by
                                                every panel and query, no hard-coded data source
    lint_monitoring.py metric-docs SOURCE_DIR   every assets_* name used in alerts/ and
                                                grafana/ is documented in docs/metrics.md
    lint_monitoring.py alerts      SOURCE_DIR   every alert has a runbook section, a runbook_url
                                                pointing at it, and unit tests in alerts/tests/
                                                where each of its severities fires and where it
                                                stays silent
    lint_monitoring.py job-selector SOURCE_DIR  every matcher on `job` in alerts/*.yml and the
                                                dashboards is exactly job="assets-agent", the
                                                text that cmake/render_monitoring.cmake and
                                                generate-prometheusrule.py replace with the
                                                configured selector (no rule or panel may
                                                depend on a job name the user cannot choose)

Only the standard library: the rule files are read line by line, in the layout alerts/ uses
(`- alert: NAME` starting a rule, `alertname:` followed by `exp_alerts:` in the tests).
"""
import glob
import json
import os
import re
import sys

METRIC_NAME = re.compile(r"\bassets_[a-z0-9_]*[a-z0-9]\b")
DATASOURCE_REFS = {"${datasource}", "$datasource"}


def fail(problems):
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(problems)} problem(s)", file=sys.stderr)
    return 1


def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def hard_coded_datasources(node, path="$"):
    """Every `datasource` in the document that is not the variable (or Grafana's built-in)."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "datasource" and value is not None:
                uid = value.get("uid") if isinstance(value, dict) else value
                builtin = isinstance(value, dict) and value.get("type") == "datasource" and uid == "grafana"
                if uid not in DATASOURCE_REFS and not builtin:
                    yield f"{here} = {json.dumps(value)}"
            yield from hard_coded_datasources(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from hard_coded_datasources(value, f"{path}[{i}]")


def lint_dashboards(src):
    files = sorted(glob.glob(os.path.join(src, "grafana", "dashboards", "*.json")))
    if not files:
        return fail(["no dashboards in grafana/dashboards"])
    problems, uids = [], {}
    for path in files:
        name = os.path.relpath(path, src)
        try:
            with open(path, encoding="utf-8") as f:
                dash = json.load(f)
        except (OSError, ValueError) as error:
            problems.append(f"{name}: not valid JSON: {error}")
            continue
        uid = dash.get("uid")
        if not uid or len(uid) > 40:
            problems.append(f"{name}: uid must be set and at most 40 characters: {uid!r}")
        elif uid in uids:
            problems.append(f"{name}: uid {uid!r} is also used by {uids[uid]}")
        else:
            uids[uid] = name
        if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 39:
            problems.append(f"{name}: schemaVersion must be 39 or later: {dash.get('schemaVersion')!r}")
        variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
        ds = variables.get("datasource")
        if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
            problems.append(f"{name}: needs a variable `datasource` of type datasource, query prometheus")
        if "instance" not in variables:
            problems.append(f"{name}: needs a variable `instance`")
        ids = set()
        for panel in walk_panels(dash.get("panels", [])):
            title = f"{name}: panel {panel.get('title')!r}"
            if panel.get("id") in ids:
                problems.append(f"{title}: duplicate panel id {panel.get('id')}")
            ids.add(panel.get("id"))
            if panel.get("type") == "row" and "datasource" not in panel:
                continue
            if (panel.get("datasource") or {}).get("uid") not in DATASOURCE_REFS:
                problems.append(f"{title}: datasource must be ${{datasource}}: {panel.get('datasource')!r}")
            if panel.get("type") != "row" and not panel.get("targets"):
                problems.append(f"{title}: has no queries")
            for target in panel.get("targets", []):
                if not target.get("expr", "").strip():
                    problems.append(f"{title}: query {target.get('refId')} has no expression")
        problems += [f"{name}: hard-coded data source at {where}" for where in hard_coded_datasources(dash)]
    if problems:
        return fail(problems)
    print(f"{len(files)} dashboards ok")
    return 0


def names_in(paths):
    used = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for name in METRIC_NAME.findall(f.read()):
                used.setdefault(name, path)
    return used


def lint_metric_docs(src):
    paths = [p for pattern in ("alerts/**/*.yml", "grafana/**/*.json", "grafana/**/*.yml")
             for p in glob.glob(os.path.join(src, pattern), recursive=True)]
    used = names_in(sorted(paths))
    documented = set(names_in([os.path.join(src, "docs", "metrics.md")]))
    missing = sorted(set(used) - documented)
    if missing:
        return fail([f"{name} (used in {os.path.relpath(used[name], src)}) is not documented in docs/metrics.md"
                     for name in missing])
    print(f"{len(used)} metric names used in alerts/ and grafana/, all documented")
    return 0


def rules_by_alert(src):
    """{alert name: {"severities": set, "runbook_urls": set, "file": path}} from alerts/*.yml."""
    alerts = {}
    for path in sorted(glob.glob(os.path.join(src, "alerts", "*.yml"))):
        current = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                if m := re.match(r"\s*- (alert|record):\s*(\S+)", line):
                    current = None
                    if m.group(1) == "alert":
                        current = alerts.setdefault(m.group(2), {"severities": set(), "runbook_urls": set(),
                                                                 "file": os.path.relpath(path, src)})
                elif current and (m := re.match(r"\s*severity:\s*\"?(\w+)", line)):
                    current["severities"].add(m.group(1))
                elif current and (m := re.match(r"\s*runbook_url:\s*\"?([^\"\s]+)", line)):
                    current["runbook_urls"].add(m.group(1))
    return alerts


def tested_alerts(src):
    """{alert name: {"silent": bool, "severities": set}} from the tests in alerts/tests."""
    tests = {}
    for path in sorted(glob.glob(os.path.join(src, "alerts", "tests", "*.yml"))):
        current = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                if m := re.match(r"\s*(?:- )?alertname:\s*(\S+)", line):
                    current = tests.setdefault(m.group(1), {"silent": False, "severities": set()})
                elif current and re.match(r"\s*exp_alerts:\s*\[\]", line):
                    current["silent"] = True
                elif current and (m := re.match(r"\s*severity:\s*\"?(\w+)", line)):
                    current["severities"].add(m.group(1))
                elif re.match(r"\s*- (eval_time|name|interval):", line):
                    current = None
    return tests


def lint_alerts(src):
    alerts = rules_by_alert(src)
    if not alerts:
        return fail(["no alerts in alerts/*.yml"])
    with open(os.path.join(src, "docs", "runbooks.md"), encoding="utf-8") as f:
        headings = {m.group(1) for m in re.finditer(r"^#+\s+(\S+)\s*$", f.read(), re.M)}
    tests = tested_alerts(src)
    problems = []
    for name, rule in sorted(alerts.items()):
        where = f"{rule['file']}: {name}"
        if name not in headings:
            problems.append(f"{where}: no section `{name}` in docs/runbooks.md")
        expected_url = f"docs/runbooks.md#{name.lower()}"
        if rule["runbook_urls"] != {expected_url}:
            problems.append(f"{where}: runbook_url must be {expected_url}: {sorted(rule['runbook_urls'])}")
        if not rule["severities"] or not rule["severities"] <= {"critical", "warning", "info"}:
            problems.append(f"{where}: severity must be critical, warning or info: {sorted(rule['severities'])}")
        tested = tests.get(name)
        if not tested:
            problems.append(f"{where}: no test in alerts/tests")
            continue
        if not tested["silent"]:
            problems.append(f"{where}: no test where it stays silent (exp_alerts: [])")
        for severity in sorted(rule["severities"] - tested["severities"]):
            problems.append(f"{where}: no test where it fires with severity {severity}")
    problems += [f"alerts/tests: {name} is tested but no rule defines it" for name in sorted(set(tests) - set(alerts))]
    if problems:
        return fail(problems)
    print(f"{len(alerts)} alerts: runbook sections, runbook_urls and tests ok")
    return 0


DEFAULT_JOB_SELECTOR = 'job="assets-agent"'
JOB_MATCHER = re.compile(r"""\bjob\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)?""")


def json_strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from json_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from json_strings(value)
    elif isinstance(node, str):
        yield node


def lint_job_selector(src):
    texts = []  # (file, text)
    for path in sorted(glob.glob(os.path.join(src, "alerts", "*.yml"))):
        with open(path, encoding="utf-8") as f:
            texts.append((os.path.relpath(path, src), f.read()))
    for path in sorted(glob.glob(os.path.join(src, "grafana", "dashboards", "*.json"))):
        with open(path, encoding="utf-8") as f:
            texts += [(os.path.relpath(path, src), s) for s in json_strings(json.load(f))]
    problems, selected = [], 0
    for name, text in texts:
        for match in JOB_MATCHER.finditer(text):
            if match.group(0) == DEFAULT_JOB_SELECTOR:
                selected += 1
            else:
                problems.append(f"{name}: {match.group(0)!r}: select the job only as {DEFAULT_JOB_SELECTOR} "
                                "(the rendered rules and dashboards replace it with ASSETS_AGENT_JOB_SELECTOR)")
    with open(os.path.join(src, "alerts", "agent.yml"), encoding="utf-8") as f:
        if f"up{{{DEFAULT_JOB_SELECTOR}}}" not in f.read():
            problems.append(f"alerts/agent.yml: AssetsAgentDown must select up{{{DEFAULT_JOB_SELECTOR}}}")
    if problems:
        return fail(problems)
    print(f"{selected} job selectors in alerts/ and grafana/dashboards, all {DEFAULT_JOB_SELECTOR}")
    return 0


def main(argv):
    checks = {"dashboards": lint_dashboards, "metric-docs": lint_metric_docs, "alerts": lint_alerts,
              "job-selector": lint_job_selector}
    if len(argv) != 3 or argv[1] not in checks:
        print(__doc__, file=sys.stderr)
        return 2
    return checks[argv[1]](argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
