#!/usr/bin/env bash
# What metrics and tracing cost ingest (issue 14, "Performance": goal ≤ 3 %). ancora-load runs
# ROUNDS times each way, alternating: "on" is the default (metrics on, ANCORA_LOG=info: the
# request span and its log lines), "off" is ANCORA_METRICS=off and ANCORA_LOG=off. Prints every
# run and the medians of the acknowledged rate and of server CPU per event, and the cost of
# "on" in each. A benchmark, not a test.
#
#   cargo build --release -p ancora -p ancora-load && e2e/bench/metrics-cost.sh
#
# Knobs: DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres), ROUNDS (5),
# DURATION seconds per run (15), CLIENTS (8), EVENTS_PER_REQUEST (100).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export DATABASE_URL=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
ancora=$root/target/release/ancora
load=$root/target/release/ancora-load
for b in "$ancora" "$load"; do
  [ -x "$b" ] || { echo "metrics-cost: $b is missing; run cargo build --release -p ancora -p ancora-load" >&2; exit 1; }
done
# shellcheck source=lib-load.sh
. "$root/e2e/bench/lib-load.sh"
rounds=${ROUNDS:-5}
common=(--duration "${DURATION:-15}" --clients "${CLIENTS:-8}" --events-per-request "${EVENTS_PER_REQUEST:-100}")
on=(--server-env ANCORA_METRICS=on --server-env ANCORA_LOG=info)
off=(--server-env ANCORA_METRICS=off --server-env ANCORA_LOG=off)
declare -A rates cpus
for round in $(seq "$rounds"); do
  for mode in on off; do
    echo "== round $round: metrics and tracing $mode" >&2
    if [ "$mode" = on ]; then args=("${on[@]}"); else args=("${off[@]}"); fi
    read -r rate cpu < <(load_run "${common[@]}" "${args[@]}")
    rates[$mode]+="$rate "
    cpus[$mode]+="$cpu "
  done
done
report_on_off "metrics + tracing" 3
