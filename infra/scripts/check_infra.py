"""Checks infra/ (see check-infra.sh for what and why). Exits non-zero naming every failure."""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE = INFRA / "compose.yaml"
K8S = INFRA / "k8s"
DOCKERFILE = INFRA / "docker" / "Dockerfile"
GRAFANA = INFRA / "grafana"
METRICS_RS = ROOT / "backend" / "ancora" / "src" / "support" / "metrics.rs"
README = ROOT / "README.md"
YAMLLINT = ("{extends: default, rules: {line-length: {max: 100}, document-start: disable, "
            "truthy: {check-keys: false}}}")

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL {msg}", flush=True)


def ok(msg: str) -> None:
    print(f"ok   {msg}", flush=True)


def run_tool(name: str, args: list[str]) -> None:
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"{name}: {(p.stdout + p.stderr).strip()}")
    else:
        ok(name)


def k8s_docs() -> list[tuple[Path, dict]]:
    docs = []
    for f in sorted(K8S.glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d:
                docs.append((f, d))
    return docs


def linters() -> None:
    yamls = [str(p) for p in sorted(INFRA.rglob("*.yaml"))]
    run_tool("yamllint", ["yamllint", "-s", "-d", YAMLLINT, *yamls])
    run_tool("compose file matches the Compose specification",
             ["check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])
    manifests = [str(p) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"]
    p = subprocess.run(["kubernetes-validate", "--strict", "--quiet", *manifests],
                       capture_output=True, text=True)
    errors = [line for line in (p.stdout + p.stderr).splitlines() if "ERROR" in line]
    if p.returncode != 0 or errors:
        fail("kubernetes-validate --strict: " + "; ".join(errors or [p.stdout + p.stderr]))
    else:
        ok(f"kubernetes-validate --strict ({len(manifests)} files)")
    run_tool("hadolint", ["hadolint", str(DOCKERFILE)])


def pod_specs(docs):
    for f, d in docs:
        if d.get("kind") in ("Deployment", "Job"):
            yield f, d, d["spec"]["template"]["spec"]


def rules(compose: dict, docs) -> None:
    # compose: the services the issue asks for, API and workers apart, one image.
    services = compose.get("services", {})
    for name in ("postgres", "s3", "devnet", "migrate", "api", "worker"):
        if name not in services:
            fail(f"compose: no {name} service")
    ancora = {n: s for n, s in services.items() if s.get("image", "").startswith("ancora:")}
    if {s["image"] for s in ancora.values()} != {"ancora:latest"}:
        fail("compose: the ancora services do not share one image")
    if services.get("api", {}).get("command", [None])[:2] != ["serve", "--api-only"]:
        fail("compose: the api service is not `serve --api-only`")
    if services.get("worker", {}).get("command", [None])[0] != "worker":
        fail("compose: the worker service is not `worker`")
    # Dockerfile: multi-stage, final stage non-root.
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    if len(stages) < 2:
        fail("Dockerfile: not multi-stage")
    if not users or users[-1].split(":")[0] in ("0", "root"):
        fail("Dockerfile: the runtime stage does not run as a non-root user")
    # kustomization lists every manifest.
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kust.get("resources", []))
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    if listed != present:
        fail(f"kustomization resources {sorted(listed)} != files {sorted(present)}")
    by_kind: dict[str, list[dict]] = {}
    for _, d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    deps = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    api, worker = deps.get("ancora-api"), deps.get("ancora-worker")
    if not api or not worker:
        fail("k8s: need the ancora-api and ancora-worker Deployments")
        return
    c = api["spec"]["template"]["spec"]["containers"][0]
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        fail("k8s: the API's readiness probe is not /readyz")
    if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        fail("k8s: the API's liveness probe is not /healthz")
    w = worker["spec"]["template"]["spec"]["containers"][0]
    if w.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz" or \
            w.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        fail("k8s: the workers' probes are not /readyz and /healthz on --ops-listen")
    api_labels = api["spec"]["template"]["metadata"]["labels"]
    hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                "name": "ancora-api"}]
    if not hpas:
        fail("k8s: no HorizontalPodAutoscaler targets the API Deployment")
    pdbs = [p for p in by_kind.get("PodDisruptionBudget", [])
            if p["spec"]["selector"]["matchLabels"].items() <= api_labels.items()]
    if not pdbs:
        fail("k8s: no PodDisruptionBudget selects the API pods")
    svc = [s for s in by_kind.get("Service", []) if s["spec"]["selector"].items() <= api_labels.items()]
    if not svc:
        fail("k8s: no Service selects the API pods")
    if not any(j["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
               for j in by_kind.get("Job", [])):
        fail("k8s: no migrations Job")
    for f, d, spec in pod_specs(docs):
        if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
            fail(f"k8s {f.name}: {d['metadata']['name']} may run as root")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        for ctr in spec["containers"]:
            env = {}
            for ref in ctr.get("envFrom", []):
                if "configMapRef" in ref:
                    env.update(next(x for _, x in docs if x["kind"] == "ConfigMap"
                                    and x["metadata"]["name"] == ref["configMapRef"]["name"])
                               ["data"])
            shutdown_ms = int(env.get("ANCORA_SHUTDOWN_GRACE_MS", "20000"))
            if d["kind"] == "Deployment" and shutdown_ms / 1000 + 5 > grace:
                fail(f"k8s {f.name}: ANCORA_SHUTDOWN_GRACE_MS + 5 s exceeds the pod's grace")
    if not failures:
        ok("deployment rules (probes, HPA, PDBs, Service, migrations Job, non-root, grace)")


def ancora_commands(compose: dict, docs) -> list[tuple[str, list[str]]]:
    cmds = []
    for name, s in compose["services"].items():
        if s.get("image", "").startswith("ancora:"):
            cmds.append((f"compose {name}", s.get("command") or ["serve"]))
    for f, d, spec in pod_specs(docs):
        for c in spec["containers"]:
            if c["image"] == "ancora":
                cmds.append((f"k8s {d['metadata']['name']}", c.get("args") or ["serve"]))
    return cmds


def commands_parse(ancora: str, cmds) -> None:
    for where, args in cmds:
        p = subprocess.run([ancora, *args, "--help"], capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"{where}: `ancora {' '.join(args)}` does not parse: {p.stderr.strip()}")
        else:
            ok(f"{where}: `ancora {' '.join(args)} --help` exits 0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, key: str | None = None, body: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode())
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_for(what: str, check, within: float) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    fail(f"timed out: {what}")
    return False


def compose_env(service: dict, replace: dict[str, str]) -> dict[str, str]:
    env = {}
    for k, v in (service.get("environment") or {}).items():
        v = str(v)
        for a, b in replace.items():
            v = v.replace(a, b)
        env[k] = v
    return env


def start_as_processes(ancora: str, devnet: str, pg: str, compose: dict, logdir: Path) -> None:
    """Runs the compose services' commands as plain processes (hosts mapped to 127.0.0.1)."""
    services = compose["services"]
    db = f"ancora_infra_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", f"{pg}/postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
    procs: list[subprocess.Popen] = []
    try:
        devnet_port, api_port = free_port(), free_port()
        replace = {
            "postgres://ancora:ancora@postgres:5432/ancora": f"{pg}/{db}",
            "http://devnet:8090": f"http://127.0.0.1:{devnet_port}",
            "${ANCORA_CHAINWEB_KEY:?set ANCORA_CHAINWEB_KEY, e.g. $(openssl rand -hex 32)}":
                os.urandom(32).hex(),
        }
        base = {k: v for k, v in os.environ.items() if not k.startswith("ANCORA_")
                and k != "DATABASE_URL"}

        def spawn(name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
            log = open(logdir / f"{name}.log", "w")
            p = subprocess.Popen(argv, env={**base, **env}, stdout=log, stderr=log)
            procs.append(p)
            return p

        dn_args = [a.replace("0.0.0.0:8090", f"127.0.0.1:{devnet_port}")
                   for a in services["devnet"]["command"]]
        spawn("devnet", [devnet, *dn_args], {})
        env = compose_env(services["migrate"], replace)
        m = subprocess.run([ancora, *services["migrate"]["command"]], env={**base, **env},
                           capture_output=True, text=True)
        if m.returncode != 0:
            fail(f"compose migrate as a process: {m.stderr.strip()}")
            return
        ok("compose migrate runs as a process")
        api_args = [a.replace("0.0.0.0:8080", f"127.0.0.1:{api_port}")
                    for a in services["api"]["command"]]
        api = spawn("api", [ancora, *api_args], compose_env(services["api"], replace))
        ops_port = free_port()
        worker_args = [a.replace("0.0.0.0:9090", f"127.0.0.1:{ops_port}")
                       for a in services["worker"]["command"]]
        worker = spawn("worker", [ancora, *worker_args], compose_env(services["worker"], replace))
        url = f"http://127.0.0.1:{api_port}"
        if not wait_for("the api process is ready", lambda: get(f"{url}/readyz")[0] == 200, 60):
            return
        ok("compose api runs as a process (/readyz 200)")
        ops = f"http://127.0.0.1:{ops_port}"
        if not wait_for("the worker's ops address is ready",
                        lambda: get(f"{ops}/readyz")[0] == 200, 60):
            return
        if "ancora_log_monitor_alerts" not in get(f"{ops}/metrics")[1]:
            fail("the worker's /metrics lacks the log monitor's alerts")
        else:
            ok("compose worker serves /readyz and /metrics on --ops-listen")
        admin_env = {**base, **compose_env(services["migrate"], replace)}
        tenant = subprocess.run([ancora, "admin", "create-tenant", "Infra check"], env=admin_env,
                                capture_output=True, text=True, check=True).stdout.strip()
        key = subprocess.run([ancora, "admin", "create-api-key", "--tenant", tenant, "--role",
                              "submitter"], env=admin_env, capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        digest = "sha256:" + "ab" * 32
        status, text = get(f"{url}/v1/events", key,
                           {"events": [{"id": "infra-1", "digest": digest}]})
        if status != 202:
            fail(f"submitting to the api process: {status} {text}")
            return

        def proved() -> bool:
            s, t = get(f"{url}/v1/events/infra-1", key)
            return s == 200 and json.loads(t).get("finality") in ("log-signed", "final")

        if wait_for("the worker process proves the event", proved, 60):
            ok("compose worker runs as a process (the event submitted to the api is proved)")
        for name, p in (("api", api), ("worker", worker)):
            p.send_signal(signal.SIGTERM)
            try:
                code = p.wait(timeout=30)
                if code != 0:
                    fail(f"compose {name}: exit {code} after SIGTERM")
                else:
                    ok(f"compose {name}: clean exit on SIGTERM")
            except subprocess.TimeoutExpired:
                fail(f"compose {name}: still running 30 s after SIGTERM")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["psql", f"{pg}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"],
                       check=False)


def registered_metrics() -> set[str]:
    """The metric names the code registers (`registry.register("name", …)` under the `ancora`
    prefix), as exposed: `ancora_<name>`."""
    names = re.findall(r'\.register\(\s*"([a-z0-9_]+)"', METRICS_RS.read_text())
    return {f"ancora_{n}" for n in names}


def grafana() -> None:
    """Every dashboard in infra/grafana parses, every panel queries something, and every
    metric a query names is one the code registers (a histogram's `_bucket`/`_sum`/`_count` and
    a counter's `_total` are its series); every registered metric is documented in README."""
    known = registered_metrics()
    if not known:
        fail(f"no metrics found in {METRICS_RS.relative_to(ROOT)}")
        return
    dashboards = sorted(GRAFANA.glob("*.json"))
    if not dashboards:
        fail("infra/grafana holds no dashboard")
    for f in dashboards:
        name = f.relative_to(ROOT)
        try:
            dash = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            fail(f"{name}: not JSON: {e}")
            continue
        panels = dash.get("panels") or []
        if not panels:
            fail(f"{name}: no panels")
        bad = []
        for panel in panels:
            exprs = [t.get("expr", "") for t in panel.get("targets") or []]
            if not any(exprs):
                bad.append(f"panel {panel.get('title')!r} has no query")
            for expr in exprs:
                for metric in re.findall(r"\bancora_[a-z0-9_]+", expr):
                    series = {metric} | {metric[: -len(sfx)] for sfx in
                                         ("_bucket", "_sum", "_count", "_total")
                                         if metric.endswith(sfx)}
                    if not series & known:
                        bad.append(f"panel {panel.get('title')!r} queries {metric}, "
                                   "which the code does not export")
        if bad:
            for b in bad:
                fail(f"{name}: {b}")
        else:
            ok(f"{name}: {len(panels)} panels, every metric exported by the code")
    readme = README.read_text()
    undocumented = sorted(m for m in known if m not in readme)
    if undocumented:
        fail(f"metrics missing from README.md: {', '.join(undocumented)}")
    else:
        ok(f"README.md documents all {len(known)} metrics")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ancora", required=True)
    ap.add_argument("--devnet", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--no-processes", action="store_true", help="skip starting processes")
    ap.add_argument("--only-grafana", action="store_true",
                    help="only check the dashboards against the code (no tools needed)")
    a = ap.parse_args()
    grafana()
    if a.only_grafana:
        return 1 if failures else 0
    compose = yaml.safe_load(COMPOSE.read_text())
    docs = k8s_docs()
    linters()
    rules(compose, docs)
    commands_parse(a.ancora, ancora_commands(compose, docs))
    if not a.no_processes:
        logdir = ROOT / "target" / "check-infra"
        logdir.mkdir(parents=True, exist_ok=True)
        start_as_processes(a.ancora, a.devnet, a.pg, compose, logdir)
    print("Docker is not run here (no daemon on this machine): the image is checked by hadolint "
          "and its commands by running the binary it packages.")
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("infra checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
