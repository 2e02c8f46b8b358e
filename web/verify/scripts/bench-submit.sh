#!/usr/bin/env bash
# The SDK's submit rate beside ancora-load's, on this machine, against the same release build:
#   1. ancora-load (8 clients × 100 events/request, its default) for BENCH_SECONDS (default 20);
#   2. `AncoraClient.submit` of BENCH_EVENTS (default 100 000) events from one Node process
#      against `ancora serve` (release, defaults: admission control on) on a scratch database;
# then prints the ratio (goal ≥ 0.5). A benchmark, not a test.
#
#   cargo build --release -p ancora -p ancora-load && web/verify/scripts/bench-submit.sh
#
# DATABASE_URL names the Postgres server (default postgres://root@127.0.0.1:5432/postgres).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
base_url=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
ancora=$root/target/release/ancora
load=$root/target/release/ancora-load
for b in "$ancora" "$load"; do
  [ -x "$b" ] || { echo "bench-submit: $b is missing; run cargo build --release -p ancora -p ancora-load" >&2; exit 1; }
done
seconds=${BENCH_SECONDS:-20}

echo "== ancora-load (8 clients × 100 events/request, ${seconds} s)"
load_out=$(DATABASE_URL=$base_url "$load" --duration "$seconds" --ancora "$ancora" | tee /dev/stderr)
load_rate=$(printf '%s\n' "$load_out" | sed -n 's/^acknowledged events: .* = \([0-9]*\) events\/s.*/\1/p')

echo "== SDK submit"
db=ancora_bench_sdk_$$
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql "$base_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql "$base_url" -qc "CREATE DATABASE $db" >/dev/null
export DATABASE_URL=${base_url%/*}/$db
export ANCORA_LOG=warn
"$ancora" migrate >/dev/null
tenant=$("$ancora" admin create-tenant sdk-bench)
key=$("$ancora" admin create-api-key --tenant "$tenant" --role submitter)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$ancora" serve --listen "127.0.0.1:$port" >/dev/null &
server_pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
cd web/verify
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
[ -f dist/index.js ] || npm run --silent build
sdk_out=$(ANCORA_URL="http://127.0.0.1:$port" ANCORA_API_KEY=$key BENCH_RUNS=${BENCH_RUNS:-50} npm run --silent bench | tee /dev/stderr)
sdk_rate=$(printf '%s\n' "$sdk_out" | sed -n 's/^submit: .* = \([0-9]*\) events\/s.*/\1/p')

echo "== submit: SDK $sdk_rate events/s, ancora-load $load_rate events/s, ratio $(python3 -c "print(f'{$sdk_rate/$load_rate:.2f}')") (goal ≥ 0.5)"
