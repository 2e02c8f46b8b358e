#!/usr/bin/env bash
# Archive throughput and cold-read latency (issue 11, "Performance"), against a local S3
# server (s3s-fs, SigV4 enforced) and a release build. Submits EVENTS events with inline
# contents (CONTENT_BYTES each, EVENTS_PER_REQUEST a request), waits until every one is proved,
# times one `ancora admin archive run` (hot period 0s: every batch is copied, read back,
# verified, and its hot contents dropped) and prints objects/s and MB/s, then reads COLD_READS
# contents back from the archive through the API and prints the cold-read p50/p95. A
# benchmark, not a test.
#
#   cargo build --release -p ancora && e2e/bench/archive.sh
#
# Knobs: DATABASE_URL (server; default postgres://root@127.0.0.1:5432/postgres), EVENTS (20000),
# EVENTS_PER_REQUEST (100), CONTENT_BYTES (1024), COLD_READS (300), S3S_FS (the binary).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
base=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
ancora=$root/target/release/ancora
[ -x "$ancora" ] || { echo "archive.sh: $ancora is missing; run cargo build --release -p ancora" >&2; exit 1; }
s3s=${S3S_FS:-$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")}
[ -x "$s3s" ] || { echo "archive.sh: s3s-fs is missing; cargo install s3s-fs@0.14.1 --features binary --locked" >&2; exit 1; }
events=${EVENTS:-20000}
per=${EVENTS_PER_REQUEST:-100}
size=${CONTENT_BYTES:-1024}
cold=${COLD_READS:-300}

work=$(mktemp -d /tmp/ancora-bench-archive.XXXXXX)
db=bench_archive_$$
s3port=$((20000 + RANDOM % 20000))
port=$((20000 + RANDOM % 20000))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql "${base%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "${base%/*}/postgres" -qc "CREATE DATABASE $db" >/dev/null
mkdir -p "$work/s3/ancora-bench"
"$s3s" --host 127.0.0.1 --port "$s3port" --access-key bench-access --secret-key bench-secret-key "$work/s3" >/dev/null 2>&1 &
pids+=($!)
export DATABASE_URL="${base%/*}/$db" ANCORA_DATA_DIR="$work/data" ANCORA_LOG=warn \
  ANCORA_ARCHIVE_URL=s3://ancora-bench/bench ANCORA_S3_ENDPOINT="http://127.0.0.1:$s3port" \
  ANCORA_S3_PATH_STYLE=true AWS_ACCESS_KEY_ID=bench-access AWS_SECRET_ACCESS_KEY=bench-secret-key \
  AWS_REGION=us-east-1 ANCORA_ARCHIVE_INTERVAL_S=86400 ANCORA_DEFAULT_PLAN=enterprise \
  ANCORA_MAX_PROOF_LAG_MS=0
"$ancora" migrate >/dev/null
tenant=$("$ancora" admin create-tenant "Archive bench")
key=$("$ancora" admin create-api-key --tenant "$tenant" --role owner)
"$ancora" admin retention set --tenant "$tenant" --hot 0s --keep 10y >/dev/null
"$ancora" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done

echo "== submitting $events events with $size-byte contents" >&2
python3 - "$port" "$key" "$events" "$per" "$size" <<'PY'
import base64, json, os, sys, time, urllib.request
port, key, n, per, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
url = f"http://127.0.0.1:{port}/v1/events"
for start in range(0, n, per):
    evs = [{"id": f"e-{i}", "content": base64.b64encode(os.urandom(size)).decode()} for i in range(start, min(n, start + per))]
    req = urllib.request.Request(url, data=json.dumps({"events": evs}).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
last = f"http://127.0.0.1:{port}/v1/events/e-{n-1}/proof"
for _ in range(600):
    try:
        urllib.request.urlopen(urllib.request.Request(last, headers={"Authorization": f"Bearer {key}"})).read()
        break
    except Exception:
        time.sleep(0.5)
PY

echo "== one archiving pass" >&2
t0=$(date +%s.%N)
summary=$("$ancora" admin archive run | tail -1)
t1=$(date +%s.%N)
echo "    $summary" >&2
objects=$(echo "$summary" | sed -nE 's/.*\(([0-9]+) objects, ([0-9]+) bytes\).*/\1/p')
bytes=$(echo "$summary" | sed -nE 's/.*\(([0-9]+) objects, ([0-9]+) bytes\).*/\2/p')
awk -v o="$objects" -v b="$bytes" -v t0="$t0" -v t1="$t1" 'BEGIN {
  s = t1 - t0; printf "archive: %d objects, %.1f MB in %.2f s = %.0f objects/s, %.1f MB/s\n", o, b/1e6, s, o/s, b/1e6/s }'

echo "== $cold cold reads" >&2
python3 - "$port" "$key" "$events" "$cold" <<'PY'
import random, sys, time, urllib.request
port, key, n, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ids = random.sample(range(n), min(k, n))
lat = []
for i in ids:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/events/e-{i}/content", headers={"Authorization": f"Bearer {key}"})
    t = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        r.read()
        assert r.headers.get("X-Ancora-Content-Source") == "cold", r.headers
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"cold reads: {len(lat)}, p50 {p(0.50):.1f} ms, p95 {p(0.95):.1f} ms")
PY
