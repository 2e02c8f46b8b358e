#!/usr/bin/env bash
# Portal benchmark (not a test): one tenant with 1 000 000 events, then p50/p95/p99 of
#   * the catalog's first page          GET /t/{tenant}/events            (target p95 <= 100 ms)
#   * a digest search                   GET /t/{tenant}/events?q=<hex>    (target p95 <= 100 ms)
#   * one event's PDF report            GET /t/{tenant}/events/{id}/report.pdf   (<= 200 ms)
# over BENCH_N requests each (default 200, after 10 warm-up requests), against `ancora serve`
# over HTTP as a signed-in auditor. Also writes EXPLAIN ANALYZE of the catalog queries (custom
# and generic plans, run as ancora_app with the tenant set, so row-level security applies) to
# e2e/artifacts/bench/explain.txt.
#
#   e2e/bench/portal.sh                 # debug build, like CI; BENCH_PROFILE=release for release
#
# The events are seeded with one INSERT … SELECT generate_series into a throwaway database
# migrated by `ancora migrate` (the real schema, indexes and RLS); 1 000 batches of 1 000 (seq
# ranges), all proved. The event whose PDF is timed goes through the real API and workers. The database and
# the server are removed on exit. Postgres: BENCH_DATABASE_ADMIN_URL, else DATABASE_URL, else
# 127.0.0.1:5432 as the current user.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/e2e/artifacts/bench"
mkdir -p "$out"
log() { printf '==> %s\n' "$*" >&2; }
n=${BENCH_N:-200}
events=${BENCH_EVENTS:-1000000}
profile=${BENCH_PROFILE:-debug}

if [ -z "${ANCORA_BIN:-}" ]; then
  log "building ancora ($profile)"
  flag=(); [ "$profile" = release ] && flag=(--release)
  (cd "$root" && SQLX_OFFLINE=${SQLX_OFFLINE:-true} cargo build -q -p ancora --bin ancora --locked "${flag[@]}")
  ANCORA_BIN="${CARGO_TARGET_DIR:-$root/target}/$profile/ancora"
fi
bin=$ANCORA_BIN

admin_url=${BENCH_DATABASE_ADMIN_URL:-${DATABASE_URL:-postgres://$(id -un)@127.0.0.1:5432/postgres}}
admin_url=${admin_url%%\?*}
db="ancora_bench_$$"
port=${BENCH_PORT:-18180}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
export DATABASE_URL="${admin_url%/*}/$db"
url="http://127.0.0.1:$port"
export ANCORA_ADMIN_PASSWORD="bench password long enough"
export ANCORA_BATCH_WINDOW_MS=200 ANCORA_LOG=warn
jar=$(mktemp)
server_pid=""
cleanup() {
  local rc=$?
  [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -f "$jar"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql "$admin_url" -q -c "CREATE DATABASE $db"
"$bin" migrate >/dev/null
tenant=$("$bin" admin create-tenant "Bench tenant")
"$bin" admin create-user --email auditor@bench.test --tenant "$tenant" --role auditor >/dev/null
key=$("$bin" admin create-api-key --tenant "$tenant" --role submitter --name bench)

log "seeding $events events in 1 000-event proved batches"
start=$(date +%s%N)
psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -v tenant="$tenant" -v n="$events" <<'SQL'
INSERT INTO events (tenant_id, id, digest_alg, digest, submitter, received_at,
                    received_at_micros, leaf_hash)
SELECT :'tenant', 'ev-' || lpad(i::text, 7, '0'), 'sha256', sha256(int8send(i)), 'ak_bench',
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
       1767225600000000 + i * 1000000, sha256(int4send(i::int))
FROM generate_series(0::bigint, :n - 1) i
ORDER BY i;
-- Batches are ranges of the tenant's arrival order: every 1 000 consecutive events (the
-- tenant's first few are the audit events of its creation), and the cursor after the last.
INSERT INTO batches (id, tenant_id, state, size, root, target_chain, first_seq, last_seq,
                     created_at, anchored_at, proved_at)
SELECT md5('bench batch ' || b)::uuid, :'tenant', 'proved', count(*),
       sha256(convert_to('root ' || b, 'UTF8')), 3, min(seq), max(seq),
       t, t + interval '20 seconds', t + interval '30 seconds'
FROM (SELECT seq, (row_number() OVER (ORDER BY seq) - 1) / 1000 AS b
      FROM events WHERE tenant_id = :'tenant') e,
     LATERAL (SELECT timestamptz '2026-01-01 00:00:00+00' + b * interval '1000 seconds') AS x(t)
GROUP BY b, t;
INSERT INTO batch_cursors (tenant_id, last_seq)
SELECT :'tenant', max(seq) FROM events WHERE tenant_id = :'tenant'
ON CONFLICT (tenant_id) DO UPDATE SET last_seq = EXCLUDED.last_seq;
ANALYZE;
SQL
log "seeded in $(( ($(date +%s%N) - start) / 1000000 )) ms"

"$bin" serve --listen "127.0.0.1:$port" >"$out/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do curl -fsS "$url/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$url/readyz" >/dev/null

event="bench-pdf-0001"
curl -fsS -X POST "$url/v1/events" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"events\":[{\"id\":\"$event\",\"digest\":\"sha256:$(printf bench | sha256sum | cut -d' ' -f1)\"}]}" >/dev/null
for _ in $(seq 1 150); do
  curl -fsS "$url/v1/events/$event/proof" -H "Authorization: Bearer $key" >/dev/null 2>&1 && break
  sleep 0.2
done

csrf=$(curl -fsS -c "$jar" "$url/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -fsS -b "$jar" -c "$jar" -o /dev/null -X POST "$url/login" \
  --data-urlencode "email=auditor@bench.test" --data-urlencode "password=$ANCORA_ADMIN_PASSWORD" \
  --data-urlencode "csrf=$csrf"

# Random seeded digests to search for.
psql "$DATABASE_URL" -Atq -c "SELECT encode(sha256(int8send((random() * $((events - 1)))::bigint)), 'hex')
  FROM generate_series(1, $((n + 10)))" >"$out/digests.txt"

# time_total of each request (the server's answer, not curl's start-up), in ms.
measure() { # measure NAME URL_PREFIX [SUFFIX_FILE]
  local name=$1 target=$2 file=${3:-} i=0 line
  : >"$out/$name.ms"
  while [ $i -lt $((n + 10)) ]; do
    line=""
    [ -n "$file" ] && line=$(sed -n "$((i + 1))p" "$file")
    t=$(curl -fsS -b "$jar" -o /dev/null -w '%{http_code} %{time_total}' "$target$line")
    case $t in 200\ *) ;; *) log "$name: unexpected answer $t"; exit 1;; esac
    [ $i -ge 10 ] && echo "${t#* }" | awk '{ printf "%.3f\n", $1 * 1000 }' >>"$out/$name.ms"
    i=$((i + 1))
  done
  sort -n "$out/$name.ms" | awk -v name="$name" '
    { v[NR] = $1 }
    END {
      printf "%-16s n=%d  p50 %7.1f ms  p95 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n", name, NR,
        v[int(NR * 0.50 + 0.5)], v[int(NR * 0.95 + 0.5)], v[int(NR * 0.99 + 0.5)], v[NR]
    }'
}

log "timing $n requests each"
{
  measure catalog "$url/t/$tenant/events"
  measure digest_search "$url/t/$tenant/events?q=" "$out/digests.txt"
  measure event_pdf "$url/t/$tenant/events/$event/report.pdf"
  measure catalog_deep "$url/t/$tenant/events?before=50000"
  measure catalog_day "$url/t/$tenant/events?from=2026-01-05&to=2026-01-06"
} | tee "$out/results.txt"

log "EXPLAIN ANALYZE → $out/explain.txt"
digest=$(head -1 "$out/digests.txt")
psql "$DATABASE_URL" -q -v tenant="$tenant" -v digest="$digest" >"$out/explain.txt" 2>&1 <<'SQL'
BEGIN;
SELECT set_config('role', 'ancora_app', true), set_config('ancora.tenant_id', :'tenant', true) \gset
PREPARE catalog(uuid, timestamptz, timestamptz, bigint, text, int, bigint) AS
  SELECT e.seq, e.id, e.digest_alg, e.digest, e.received_at, b.id,
         CASE WHEN b.state IN ('anchored', 'proved') THEN 'anchored'
              WHEN b.id IS NOT NULL THEN 'batched' ELSE 'pending' END,
         b.target_chain
  FROM events e
  LEFT JOIN LATERAL (SELECT x.id, x.state, x.target_chain, x.first_seq FROM batches x
                     WHERE x.tenant_id = e.tenant_id AND x.last_seq >= e.seq
                     ORDER BY x.last_seq LIMIT 1) b ON b.first_seq <= e.seq
  WHERE e.tenant_id = $1
    AND ($2::timestamptz IS NULL OR e.received_at >= $2)
    AND ($3::timestamptz IS NULL OR e.received_at < $3)
    AND ($4::bigint IS NULL OR e.seq < $4)
    AND ($5::text IS NULL
         OR ($5 = 'pending' AND e.seq > (SELECT COALESCE(max(last_seq), 0) FROM batch_cursors WHERE tenant_id = $1))
         OR ($5 = 'batched' AND b.state = 'closed') OR ($5 = 'anchored' AND b.state IN ('anchored', 'proved')))
    AND ($6::int IS NULL OR b.target_chain = $6)
  ORDER BY e.seq DESC LIMIT $7;
PREPARE by_digest(uuid, bytea, text, bigint) AS
  SELECT e.id, e.digest_alg, e.digest, b.id,
         CASE WHEN p.event_id IS NOT NULL OR b.tree IS NOT NULL THEN 'proved' WHEN b.state IN ('anchored', 'proved') THEN 'anchored'
              WHEN b.id IS NOT NULL THEN 'batched' ELSE 'pending' END
  FROM events e
  LEFT JOIN batches b ON b.tenant_id = e.tenant_id AND b.id = ancora_batch_of(e.tenant_id, e.seq)
  LEFT JOIN proofs p ON p.tenant_id = e.tenant_id AND p.event_id = e.id
  WHERE e.tenant_id = $1 AND e.digest = $2 AND ($3::text IS NULL OR e.digest_alg = $3)
  ORDER BY e.seq LIMIT $4;
\echo '### catalog, first page (custom plan)'
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE catalog(:'tenant', NULL, NULL, NULL, NULL, NULL, 51);
\echo '### catalog, first page (generic plan, what a reused prepared statement may get)'
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE catalog(:'tenant', NULL, NULL, NULL, NULL, NULL, 51);
\echo '### catalog, page 19000 (keyset), generic plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE catalog(:'tenant', NULL, NULL, 50000, NULL, NULL, 51);
\echo '### catalog, one day, generic plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE catalog(:'tenant', '2026-01-05', '2026-01-06', NULL, NULL, NULL, 51);
\echo '### catalog, page 19000 (keyset), custom plan (what catalog_page asks for)'
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE catalog(:'tenant', NULL, NULL, 50000, NULL, NULL, 51);
\echo '### catalog, one day, custom plan (what catalog_page asks for)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE catalog(:'tenant', '2026-01-05', '2026-01-06', NULL, NULL, NULL, 51);
\echo '### catalog, status anchored, chain 3, custom plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE catalog(:'tenant', NULL, NULL, NULL, 'anchored', 3, 51);
SET plan_cache_mode = force_generic_plan;
\echo '### digest search, generic plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE by_digest(:'tenant', decode(:'digest', 'hex'), NULL, 50);
ROLLBACK;
SQL
grep -E '^###|Execution Time' "$out/explain.txt"
