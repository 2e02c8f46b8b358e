#!/usr/bin/env bash
# Scale-out throughput (issue 14, item 5): ancora-load against one pair of processes
# (`serve --api-only` + `worker`) and against two pairs on the same Postgres, alternating,
# ROUNDS times each; prints every run and the medians of the acknowledged rate (events/s, the
# rate the whole pipeline sustains with proofs on time) and of server CPU per event (all
# processes). A benchmark, not a test (the test: backend/ancora/tests/ops_scale_out.rs).
#
#   cargo build --release -p ancora -p ancora-load && e2e/bench/scale-out.sh
#
# Knobs: DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres), ROUNDS (3),
# DURATION seconds per run (20), CLIENTS (16), EVENTS_PER_REQUEST (100).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export DATABASE_URL=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
ancora=$root/target/release/ancora
load=$root/target/release/ancora-load
for b in "$ancora" "$load"; do
  [ -x "$b" ] || { echo "scale-out: $b is missing; run cargo build --release -p ancora -p ancora-load" >&2; exit 1; }
done
# shellcheck source=lib-load.sh
. "$root/e2e/bench/lib-load.sh"
rounds=${ROUNDS:-3}
common=(--duration "${DURATION:-20}" --clients "${CLIENTS:-16}" --events-per-request "${EVENTS_PER_REQUEST:-100}")
declare -A rates cpus
for round in $(seq "$rounds"); do
  for pairs in 1 2; do
    echo "== round $round: $pairs pair(s)" >&2
    read -r rate cpu < <(load_run "${common[@]}" --pairs "$pairs")
    rates[$pairs]+="$rate "
    cpus[$pairs]+="$cpu "
  done
done
echo
for pairs in 1 2; do
  r=$(echo "${rates[$pairs]}" | tr ' ' '\n' | grep . | median)
  c=$(echo "${cpus[$pairs]}" | tr ' ' '\n' | grep . | median)
  echo "$pairs pair(s): median $r events/s, $c µs server CPU per event (runs: ${rates[$pairs]% })"
done
r1=$(echo "${rates[1]}" | tr ' ' '\n' | grep . | median)
r2=$(echo "${rates[2]}" | tr ' ' '\n' | grep . | median)
echo "2 pairs ÷ 1 pair: $(awk -v a="$r2" -v b="$r1" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}') ($(nproc) cores)"
