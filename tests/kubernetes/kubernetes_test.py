#!/usr/bin/env python3
"""deploy/kubernetes, checked offline; ctest runs each part (labels static, kubernetes).

  kubernetes_test.py drift SOURCE_DIR
    deploy/kubernetes/prometheusrule.yaml is what generate-prometheusrule.py makes of
    alerts/*.yml (its --check).
  kubernetes_test.py schema SOURCE_DIR
    tests/kubernetes/validate.mjs on deploy/kubernetes: the kustomization's file list, every
    object against the Kubernetes and prometheus-operator schemas, unknown fields, the
    objects' references to each other. Then the same on copies broken on purpose, each of
    which must fail, so that a validator that accepts everything cannot pass.
  kubernetes_test.py kustomize SOURCE_DIR
    `kubectl kustomize deploy/kubernetes` (kubectl's built-in kustomize, offline), and its
    output through validate.mjs --built: every object valid, the generated ConfigMap named
    with its hash suffix, holding assets-agent.yml, and mounted by the DaemonSet.
  kubernetes_test.py agent-config SOURCE_DIR AGENT_BINARY
    the ConfigMap's agent configuration (deploy/kubernetes/assets-agent.yml) and the
    example web config through `assets-agent config check --syntax-only` (the secrets they
    name exist only in the pod); then a full `config check` of copies whose Secret folder
    is a temporary one with a stand-in file for each of the Secret's keys.

A component that is missing (PyYAML, node, the npm modules of deploy/install-deps.sh
--test, kubectl, the built agent) skips the test (exit 77), or fails it under CI=true.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77
SECRET_MOUNT = "/run/secrets/assets-agent"  # daemonset.yaml's mount of the Secret

# (what is broken, file, text, replacement, what the validator must say)
BROKEN_COPIES = [
    ("a misspelt field", "daemonset.yaml", "readinessProbe:", "readinessprobe:", "unknown field"),
    ("a wrong type", "daemonset.yaml", "containerPort: 9842", 'containerPort: "9842"', "must be integer"),
    ("a CRD field misspelt", "servicemonitor.yaml", "scrapeTimeout:", "scrapeTimeOut:", "unknown field"),
    ("a bad rule duration", "prometheusrule.yaml", "for: 2m", "for: 2 minutes", "must match pattern"),
    ("a kind without a schema", "service.yaml", "kind: Service", "kind: Servic", "no schema for"),
    ("a file not listed", "extra.yaml", None, "kind: ConfigMap\n", "not listed in kustomization.yaml"),
    ("a path not mounted", "assets-agent.yml", "path: /var/backups/assets", "path: /srv/backups", "is not mounted"),
]


class Missing(Exception):
    """A component that the test needs is absent."""


def log(message):
    print(f"kubernetes_test: {message}", flush=True)


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)


def check_drift(source):
    try:
        import yaml  # noqa: F401  (the generator's)
    except ImportError:
        raise Missing(f"the yaml module for {sys.executable} (python3-yaml)")
    result = run([sys.executable, source / "deploy/kubernetes/generate-prometheusrule.py", "--check"])
    sys.stdout.write(result.stdout + result.stderr)
    if result.returncode == SKIP:
        raise Missing("the generator's PyYAML")
    return result.returncode


def validate(source, *args):
    node = shutil.which("node")
    if node is None:
        raise Missing("node (nodejs; deploy/install-deps.sh --test)")
    result = run([node, source / "tests/kubernetes/validate.mjs", *args])
    if result.returncode == SKIP:
        raise Missing(result.stderr.strip())
    return result


def check_schema(source):
    folder = source / "deploy/kubernetes"
    result = validate(source, folder)
    sys.stdout.write(result.stdout + result.stderr)
    if result.returncode != 0:
        return 1
    failures = 0
    for what, name, old, new, expected in BROKEN_COPIES:
        with tempfile.TemporaryDirectory(prefix="kubernetes-test.") as work:
            copy = Path(work) / "kubernetes"
            shutil.copytree(folder, copy)
            target = copy / name
            if old is None:
                target.write_text(new)
            else:
                text = target.read_text()
                assert old in text, f"{name} has no {old!r} to break"
                target.write_text(text.replace(old, new, 1))
            broken = validate(source, copy)
        if broken.returncode == 1 and expected in broken.stderr:
            log(f"{what} in {name}: refused ({expected})")
        else:
            log(f"{what} in {name}: not refused as expected (exit {broken.returncode}):\n{broken.stdout}{broken.stderr}")
            failures += 1
    return 1 if failures else 0


def check_kustomize(source):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise Missing("kubectl (kubernetes-client; deploy/install-deps.sh --test)")
    folder = source / "deploy/kubernetes"
    version = run([kubectl, "version", "--client"])
    log(" ".join(version.stdout.split()))
    built = run([kubectl, "kustomize", folder])
    if built.returncode != 0:
        log(f"kubectl kustomize {folder} exited {built.returncode}:\n{built.stderr}")
        return 1
    with tempfile.TemporaryDirectory(prefix="kubernetes-test.") as work:
        output = Path(work) / "built.yaml"
        output.write_text(built.stdout)
        result = validate(source, "--built", output, folder)
    sys.stdout.write(result.stdout + result.stderr)
    return 0 if result.returncode == 0 else 1


def check_agent_config(source, agent):
    if not (agent.is_file() and os.access(agent, os.X_OK)):
        raise Missing(f"the built agent {agent}")
    folder = source / "deploy/kubernetes"
    files = {"--config.file": folder / "assets-agent.yml", "--web.config.file": folder / "web.yml.example"}
    result = run([agent, "config", "check", "--syntax-only", *[str(a) for item in files.items() for a in item]])
    sys.stdout.write(result.stdout + result.stderr)
    if result.returncode != 0:
        return result.returncode
    with tempfile.TemporaryDirectory(prefix="kubernetes-test.") as work:
        work = Path(work)
        for key in ("web.yml", "scrape_token", "db_monitor_password"):
            (work / key).write_text("stand-in")
        argv = [agent, "config", "check"]
        for flag, path in files.items():
            copy = work / f"copy-{path.name}"
            copy.write_text(path.read_text().replace(SECRET_MOUNT, str(work)))
            argv += [flag, copy]
        result = run(argv)
    sys.stdout.write(result.stdout + result.stderr)
    return result.returncode


def main():
    parts = {"drift": 2, "schema": 2, "kustomize": 2, "agent-config": 3}
    if len(sys.argv) < 3 or parts.get(sys.argv[1]) != len(sys.argv) - 1:
        sys.exit("usage: kubernetes_test.py drift|schema|kustomize SOURCE_DIR | agent-config SOURCE_DIR AGENT_BINARY")
    part, source = sys.argv[1], Path(sys.argv[2]).resolve()
    try:
        if part == "drift":
            return check_drift(source)
        if part == "schema":
            return check_schema(source)
        if part == "kustomize":
            return check_kustomize(source)
        return check_agent_config(source, Path(sys.argv[3]))
    except Missing as missing:
        if os.environ.get("CI") == "true":
            log(f"required component missing: {missing}")
            return 1
        log(f"component missing (set CI=true to fail instead): {missing}")
        return SKIP


if __name__ == "__main__":
    sys.exit(main())
