#!/usr/bin/env bash
# What archiving costs ingest (issue 11, "Performance": goal ≤ 10 % of throughput). ancora-load
# runs ROUNDS times each way, alternating: "on" archives every second (ANCORA_ARCHIVE_INTERVAL_S=1)
# to a local S3 server (s3s-fs, SigV4 enforced; each pass copies every final batch's segment,
# reads it back and checks its SHA-256, then the anchors and checkpoints), "off" runs the same
# server with the pass scheduled once a day (one pass at start, with nothing to copy yet).
# Prints every run, the medians of the acknowledged rate and of server CPU per event, and the
# cost of "on". A benchmark, not a test (the archive's tests: backend/ancora/tests/archive/).
#
#   cargo build --release -p ancora -p ancora-load && e2e/bench/archive-cost.sh
#
# Knobs: DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres), ROUNDS (3), DURATION
# seconds per run (20), CLIENTS (8), EVENTS_PER_REQUEST (100), S3S_FS (the binary).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export DATABASE_URL=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
target=${CARGO_TARGET_DIR:-$root/target}
ancora=$target/release/ancora
load=$target/release/ancora-load
for b in "$ancora" "$load"; do
  [ -x "$b" ] || { echo "archive-cost: $b is missing; run cargo build --release -p ancora -p ancora-load" >&2; exit 1; }
done
s3s=${S3S_FS:-$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")}
[ -x "$s3s" ] || { echo "archive-cost: s3s-fs is missing; cargo install s3s-fs@0.14.1 --features binary --locked" >&2; exit 1; }
# shellcheck source=lib-load.sh
. "$root/e2e/bench/lib-load.sh"

work=$(mktemp -d /tmp/ancora-bench-archive-cost.XXXXXX)
s3port=$((20000 + RANDOM % 20000))
mkdir -p "$work/s3/ancora-bench"
"$s3s" --host 127.0.0.1 --port "$s3port" --access-key bench-access --secret-key bench-secret-key "$work/s3" >/dev/null 2>&1 &
s3pid=$!
trap 'kill $s3pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$s3port") 2>/dev/null && break; sleep 0.1; done

rounds=${ROUNDS:-3}
common=(--duration "${DURATION:-20}" --clients "${CLIENTS:-8}" --events-per-request "${EVENTS_PER_REQUEST:-100}"
  --server-env ANCORA_ARCHIVE_URL=s3://ancora-bench/bench
  --server-env "ANCORA_S3_ENDPOINT=http://127.0.0.1:$s3port" --server-env ANCORA_S3_PATH_STYLE=true
  --server-env AWS_ACCESS_KEY_ID=bench-access --server-env AWS_SECRET_ACCESS_KEY=bench-secret-key
  --server-env AWS_REGION=us-east-1)
declare -A rates cpus
run=0
for round in $(seq "$rounds"); do
  for mode in on off; do
    run=$((run + 1))
    echo "== round $round: archiving $mode" >&2
    if [ "$mode" = on ]; then every=1; else every=86400; fi
    read -r rate cpu < <(load_run "${common[@]}" --server-env "ANCORA_ARCHIVE_INTERVAL_S=$every" \
      --server-env "ANCORA_DATA_DIR=$work/data-$run")
    rates[$mode]+="$rate "
    cpus[$mode]+="$cpu "
    objects=$(find "$work/s3/ancora-bench" -type f -name '*.json' | wc -l)
    echo "    objects in the archive so far: $objects" >&2
  done
done
report_on_off "archiving beside ingest" 10 "archiving "
