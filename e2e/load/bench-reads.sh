#!/usr/bin/env bash
# Proof-read throughput with billing on and off (issue 16's cost goal: ≤ 5 %). A benchmark, not
# a test. Fills a scratch database with ancora-load (8 s of ingest, every event proved), then
# for each round serves it with ANCORA_BILLING=on and =off in turn and runs
# `wrk -t2 -c32 -d${READ_SECONDS:-10}s` over random `GET /v1/events/{id}/proof` with a
# submitter key; prints requests/s and latency percentiles of each.
#
#   cargo build --release -p ancora -p ancora-load && e2e/load/bench-reads.sh
#
# Needs wrk (Debian's package: apt-get install wrk). DATABASE_URL names the Postgres server
# (default postgres://root@127.0.0.1:5432/postgres). ROUNDS (default 2) alternates on/off.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
base_url=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
ancora=$root/target/release/ancora
load=$root/target/release/ancora-load
command -v wrk >/dev/null || { echo "bench-reads: wrk is missing (apt-get install wrk)" >&2; exit 1; }
for b in "$ancora" "$load"; do
  [ -x "$b" ] || { echo "bench-reads: $b is missing; run cargo build --release -p ancora -p ancora-load" >&2; exit 1; }
done

before=$(psql "$base_url" -Atc "SELECT coalesce(max(datname), '') FROM pg_database WHERE datname LIKE 'ancora_load_%'")
DATABASE_URL=$base_url "$load" --duration 8 --keep-db --ancora "$ancora" | grep -E '^acknowledged'
db=$(psql "$base_url" -Atc "SELECT max(datname) FROM pg_database WHERE datname LIKE 'ancora_load_%'")
[ -n "$db" ] && [ "$db" != "$before" ] || { echo "bench-reads: ancora-load kept no database" >&2; exit 1; }
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql "$base_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export DATABASE_URL=${base_url%/*}/$db ANCORA_LOG=warn
tenant=$(psql "$DATABASE_URL" -Atc "SELECT id FROM tenants LIMIT 1")
key=$("$ancora" admin create-api-key --tenant "$tenant" --role submitter)
"$ancora" admin plan set --tenant "$tenant" --plan enterprise >/dev/null
psql "$DATABASE_URL" -Atc "SELECT id FROM events ORDER BY random() LIMIT 20000" > "$work/ids"
# The ids are ASCII letters, digits and '-': no escaping needed in a path.
{
  echo 'local ids = {}'
  echo "for line in io.lines(\"$work/ids\") do ids[#ids + 1] = line end"
  echo "wrk.headers[\"Authorization\"] = \"Bearer $key\""
  echo 'request = function() return wrk.format("GET", "/v1/events/" .. ids[math.random(#ids)] .. "/proof") end'
  echo 'done = function(summary, latency, requests)'
  echo '  io.write(string.format("non-2xx/3xx: %d\n", summary.errors.status))'
  echo 'end'
} > "$work/reads.lua"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for round in $(seq "${ROUNDS:-2}"); do
  for billing in on off; do
    ANCORA_BILLING=$billing "$ancora" serve --listen "127.0.0.1:$port" >/dev/null &
    server_pid=$!
    for _ in $(seq 100); do
      curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      sleep 0.2
    done
    echo "== round $round, billing $billing"
    wrk -t2 -c32 -d"${READ_SECONDS:-10}"s --latency -s "$work/reads.lua" "http://127.0.0.1:$port" \
      | grep -E 'Requests/sec|^ +(50|99)%|non-2xx'
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
    server_pid=
  done
done
