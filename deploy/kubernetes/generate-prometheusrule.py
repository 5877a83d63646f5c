#!/usr/bin/env python3
"""Writes deploy/kubernetes/prometheusrule.yaml, prometheus-operator's PrometheusRule,
from the rule groups of alerts/*.yml (in file-name order, each group as it is there).

  generate-prometheusrule.py [--runbook-base-url URL] [--job-selector SELECTOR]
                                                        write the file
  generate-prometheusrule.py --check [...]              exit 1 with a diff when the file
                                                        is not what it would write (ctest:
                                                        kubernetes_prometheusrule_drift)

runbook_url: as CMakeLists.txt does for the installed alerts, a runbook_url that starts with
`docs/runbooks.md#` gets its `docs/runbooks.md` replaced by the base URL; others are kept.
The base URL is recorded in the file's header and used again by every later run (and by
--check) until --runbook-base-url gives another. With no file yet, the base is
`docs/runbooks.md`, so the rules keep the repository's paths (docs/kubernetes.md).

The job selector: as cmake/render_monitoring.cmake does (ASSETS_AGENT_JOB_SELECTOR), the
text job="assets-agent" in a rule's expr (AssetsAgentDown's up{job="assets-agent"}) is
replaced by --job-selector, label matchers for the job of the scraped agents: with
prometheus-operator that is the Service's name, e.g. --job-selector 'job="my-agents"'. It
is recorded in the header like the base URL and kept by later runs until another is given.
Needs Python 3 and PyYAML (python3-yaml); exits 77 without PyYAML.
"""
import argparse
import difflib
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:
    yaml = None

SKIP = 77
HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent
OUTPUT = HERE / "prometheusrule.yaml"
RUNBOOK_PATH = "docs/runbooks.md"
BASE_LINE = re.compile(r"^# runbook-base-url: (\S+)$", re.MULTILINE)
DEFAULT_JOB_SELECTOR = 'job="assets-agent"'
SELECTOR_LINE = re.compile(r"^# job-selector: (.+)$", re.MULTILINE)
# Label matchers that fit between the braces of up{...}: cmake/render_monitoring.cmake's.
_STRING = r"""("([^"\\]|\\.)*"|'([^'\\]|\\.)*')"""
_MATCHER = r"[a-zA-Z_][a-zA-Z0-9_]* *(=|!=|=~|!~) *" + _STRING
SELECTOR = re.compile(rf"^ *{_MATCHER}( *, *{_MATCHER})* *,? *$")


def recorded_base(text):
    match = BASE_LINE.search(text)
    return match.group(1) if match else None


def recorded_selector(text):
    match = SELECTOR_LINE.search(text)
    return match.group(1) if match else None


def rule_groups(alerts_dir, base, selector):
    groups = []
    files = sorted(alerts_dir.glob("*.yml"))
    if not files:
        raise SystemExit(f"no rule files in {alerts_dir}")
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
            raise SystemExit(f"{path}: no `groups` list")
        for group in document["groups"]:
            for rule in group.get("rules", []):
                if isinstance(rule.get("expr"), str):
                    rule["expr"] = rule["expr"].replace(DEFAULT_JOB_SELECTOR, selector)
                annotations = rule.get("annotations") or {}
                url = annotations.get("runbook_url")
                if isinstance(url, str) and url.startswith(RUNBOOK_PATH + "#"):
                    annotations["runbook_url"] = base + url[len(RUNBOOK_PATH):]
            groups.append(group)
    names = [group.get("name") for group in groups]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SystemExit(f"rule groups named twice in alerts/: {', '.join(map(str, duplicates))}")
    return groups


class Dumper(yaml.SafeDumper if yaml else object):
    """Block style, keys in the order of alerts/, multi-line strings (expr: |) as literals."""


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def render(base, selector):
    groups = rule_groups(SOURCE / "alerts", base, selector)
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "assets-agent",
            "namespace": "monitoring",
            "labels": {
                "app.kubernetes.io/name": "assets-agent",
                "app.kubernetes.io/component": "exporter",
            },
        },
        "spec": {"groups": groups},
    }
    header = (
        "# Generated from alerts/*.yml by deploy/kubernetes/generate-prometheusrule.py: do not\n"
        "# edit. Edit alerts/ and run the script; ctest (kubernetes_prometheusrule_drift) fails\n"
        "# while the two differ. The Prometheus must select this rule (docs/kubernetes.md).\n"
        f"# runbook-base-url: {base}\n"
        f"# job-selector: {selector}\n"
    )
    # Long annotations stay on one line each, as in a diff against alerts/.
    text = yaml.dump(rule, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1 << 16)
    if yaml.safe_load(text) != rule:
        raise SystemExit("the rendered PrometheusRule does not read back as the rules of alerts/")
    return header + text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--runbook-base-url", help="what replaces docs/runbooks.md in runbook_url")
    parser.add_argument("--job-selector", help=f"label matchers that replace {DEFAULT_JOB_SELECTOR} in the rules")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if yaml is None:
        print(f"PyYAML is missing for {sys.executable} (python3-yaml)", file=sys.stderr)
        return SKIP
    Dumper.add_representer(str, _str)

    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    base = args.runbook_base_url or (current and recorded_base(current)) or RUNBOOK_PATH
    if re.search(r"\s", base):
        parser.error("--runbook-base-url: no spaces")
    selector = args.job_selector or (current and recorded_selector(current)) or DEFAULT_JOB_SELECTOR
    if not SELECTOR.match(selector) or "\n" in selector:
        parser.error(f"--job-selector: not a list of label matchers: {selector!r} "
                     "(for example 'job=\"assets-agent\"' or 'job=~\"assets-agent|assets-agent-branch\"')")
    wanted = render(base, selector)
    if args.check:
        if current == wanted:
            print(f"{args.output.name}: up to date with alerts/ (runbook base {base}, job selector {selector})")
            return 0
        diff = difflib.unified_diff((current or "").splitlines(keepends=True), wanted.splitlines(keepends=True),
                                    f"{args.output.name} (checked in)", f"{args.output.name} (from alerts/)")
        sys.stdout.writelines(diff)
        print(f"{args.output.name} differs from alerts/: run deploy/kubernetes/generate-prometheusrule.py",
              file=sys.stderr)
        return 1
    if current != wanted:
        args.output.write_text(wanted, encoding="utf-8")
        print(f"wrote {args.output} (runbook base {base}, job selector {selector})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
