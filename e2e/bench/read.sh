#!/usr/bin/env bash
# Read benchmark (not a test): issue 13's proof-read hot path. Builds `ancora` and
# `ancora-load` in release, then runs `ancora-load --read`: a scratch database on the Postgres
# server of DATABASE_URL filled with EVENTS proved events (default 20 000; 1000000 for the
# large catalog) through the API, one `ancora serve`, and in one run
#   * GET /healthz (the empty handler, no database) and random GET /v1/events/{id}/proof,
#     closed loop at saturation (32 connections) — and their ratio;
#   * the same proof over and over (closed loop);
#   * both open loop at 1 000 and 5 000 requests/s (latency from each request's due time);
#   * random proof reads while as many connections send random well-formed keys (401s);
# each with its rate and p50/p95/p99. Extra arguments go to ancora-load (`--read-seconds 10`,
# `--rates 1000,5000`, `--connections 32`, `--keep-db`, `--ancora PATH`).
#
#   e2e/bench/read.sh                    # 20 000 events
#   EVENTS=1000000 e2e/bench/read.sh     # 1 000 000 events
#
# CI runs a short form against a debug server (backend/ancora/tests/read_bench.rs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export DATABASE_URL=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p ancora -p ancora-load >&2
fi
target=${CARGO_TARGET_DIR:-$root/target}
exec "$target/release/ancora-load" --read --ancora "$target/release/ancora" \
  --events "${EVENTS:-20000}" "$@"
