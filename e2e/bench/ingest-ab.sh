#!/usr/bin/env bash
# Ingest before and after a change (issue 13, item 3: ingest ≥ 0.5 × a raw COPY at 100 events
# per request). Runs ancora-load ROUNDS times with each of two `ancora` binaries, alternating,
# each run with its own raw COPY of the same rows (fastest of 3, on the same server); prints
# every run, then the medians of the acknowledged rate, server CPU per event, the COPY rate,
# the ratio ingest ÷ COPY and time to proof p95. A benchmark, not a test.
#
#   cp target/release/ancora /tmp/ancora-before     # built from the old commit
#   cargo build --release -p ancora -p ancora-load
#   BEFORE=/tmp/ancora-before e2e/bench/ingest-ab.sh
#
# Knobs: BEFORE (required), AFTER (default target/release/ancora), DATABASE_URL (default
# postgres://root@127.0.0.1:5432/postgres), ROUNDS (3), DURATION seconds per run (20),
# CLIENTS (8), EVENTS_PER_REQUEST (100).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export DATABASE_URL=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
before=${BEFORE:?set BEFORE to the ancora binary to compare with}
after=${AFTER:-$root/target/release/ancora}
load=$root/target/release/ancora-load
for b in "$before" "$after" "$load"; do
  [ -x "$b" ] || { echo "ingest-ab: $b is missing; run cargo build --release -p ancora -p ancora-load" >&2; exit 1; }
done
# shellcheck source=lib-load.sh
. "$root/e2e/bench/lib-load.sh"
rounds=${ROUNDS:-3}
common=(--duration "${DURATION:-20}" --clients "${CLIENTS:-8}" --events-per-request "${EVENTS_PER_REQUEST:-100}")
declare -A runs
for round in $(seq "$rounds"); do
  for side in before after; do
    bin=$before
    [ "$side" = after ] && bin=$after
    echo "== round $round: $side ($bin)" >&2
    out=$("$load" --ancora "$bin" "${common[@]}" 2>&1) || { echo "$out" >&2; exit 1; }
    echo "$out" | sed 's/^/    /' >&2
    rate=$(echo "$out" | sed -nE 's/^acknowledged events: .* = ([0-9]+) events\/s.*/\1/p')
    cpu=$(echo "$out" | sed -nE 's/^server CPU .* = ([0-9.]+) µs per event/\1/p')
    copy=$(echo "$out" | sed -nE 's/^raw COPY of the same rows: ([0-9]+) rows\/s.*/\1/p')
    ratio=$(echo "$out" | sed -nE 's/^ingest ÷ raw COPY = ([0-9.]+)/\1/p')
    p95=$(echo "$out" | sed -nE 's/^event → proof-ready: .*p95 ([0-9]+) ms.*/\1/p')
    runs[$side]+="${rate:-0} ${cpu:-0} ${copy:-0} ${ratio:-0} ${p95:-0}"$'\n'
  done
done
med_of() { echo -n "${runs[$1]}" | awk -v c="$2" '{print $c}' | median; }
printf '\n%-7s %12s %14s %12s %14s %16s\n' side "events/s" "µs CPU/event" "COPY rows/s" "ingest÷COPY" "proof p95 (ms)"
for side in before after; do
  printf '%-7s %12s %14s %12s %14s %16s\n' "$side" "$(med_of $side 1)" "$(med_of $side 2)" \
    "$(med_of $side 3)" "$(med_of $side 4)" "$(med_of $side 5)"
done
echo "(medians of $rounds runs each, alternating)"
