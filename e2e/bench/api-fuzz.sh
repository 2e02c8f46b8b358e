#!/usr/bin/env bash
# API fuzzing (issue 17): schemathesis (from PyPI) against the served OpenAPI document
# (`GET /v1/openapi.json`), once with a valid API key of each role (owner, admin, auditor,
# submitter, billing) and once without a key. The server anchors on Chainweb through the
# node double (`chainweb-devnet`), which the SPV routes use too. Every answer is checked: no server error (5xx),
# a status the document lists for the operation, its content type, and a body that matches
# the documented schema. Prints the number of cases and failures; exits non-zero on any failure.
#
#   e2e/bench/api-fuzz.sh            the long form (a benchmark: ~40 cases per operation and role)
#   API_FUZZ_EXAMPLES=3 e2e/bench/api-fuzz.sh   the short form infra/scripts/test.sh runs (< 2 min)
#
# Builds `ancora` (debug) unless ANCORA_BIN names one; DATABASE_URL names the Postgres server
# (default postgres://root@127.0.0.1:5432/postgres; a scratch database is made and dropped).
# schemathesis is installed into target/api-fuzz-venv on first use (pip, pinned below).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
examples=${API_FUZZ_EXAMPLES:-40}
seed=${API_FUZZ_SEED:-$RANDOM}
base_url=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
schemathesis_version=4.32.5

venv=$root/target/api-fuzz-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  echo "api-fuzz: installing schemathesis $schemathesis_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
if [ -z "${ANCORA_BIN:-}" ]; then
  cargo build -q -p ancora
  ANCORA_BIN=$root/target/debug/ancora
fi
if [ -z "${DEVNET_BIN:-}" ]; then
  cargo build -q -p ancora-chainweb --features testkit --bin chainweb-devnet
  DEVNET_BIN=$root/target/debug/chainweb-devnet
fi
ancora=$ANCORA_BIN

db=ancora_api_fuzz_$$
work=$(mktemp -d)
server_pid=
devnet_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$devnet_pid" ]; then kill "$devnet_pid" 2>/dev/null || true; wait "$devnet_pid" 2>/dev/null || true; fi
  psql "$base_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$base_url" -qc "CREATE DATABASE $db" >/dev/null
export DATABASE_URL=${base_url%/*}/$db ANCORA_LOG=${ANCORA_LOG:-warn}
"$ancora" migrate >/dev/null
tenant=$("$ancora" admin create-tenant "API fuzz" | grep -Eo '[0-9a-f]{8}-[0-9a-f-]{27}' | head -1)
"$ancora" admin plan set --tenant "$tenant" --plan enterprise >/dev/null
# The Chainweb node double: the server anchors on it and SPV requests reach it, so no route
# answers "no node configured".
"$DEVNET_BIN" --listen 127.0.0.1:0 --block-time-ms 500 > "$work/devnet.log" 2>&1 &
devnet_pid=$!
node=
for _ in $(seq 100); do
  node=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$work/devnet.log" | head -1 || true)
  [ -n "$node" ] && break
  sleep 0.1
done
[ -n "$node" ] || { echo "api-fuzz: chainweb-devnet did not start" >&2; cat "$work/devnet.log" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
ANCORA_PUBLIC_URL=$url ANCORA_ANCHOR_BACKEND=chainweb ANCORA_CHAINWEB_NODES=$node \
  ANCORA_CHAINWEB_NETWORK=development ANCORA_CHAINWEB_CHAINS=0,1,2,3,4,5,6,7,8,9 \
  ANCORA_CHAINWEB_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))') ANCORA_CHAINWEB_POLL_MS=500 \
  "$ancora" serve --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 150); do
  curl -fs "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$url/readyz" >/dev/null || { echo "api-fuzz: the server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }

# Something to find: a proved event, a submitter key.
owner=$("$ancora" admin create-api-key --tenant "$tenant" --role owner)
curl -fs -X POST "$url/v1/events" -H "Authorization: Bearer $owner" -H 'Content-Type: application/json' \
  -d '{"events":[{"id":"fuzz-1","digest":"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]}' >/dev/null
for _ in $(seq 50); do
  curl -fs "$url/v1/events/fuzz-1/proof" -H "Authorization: Bearer $owner" >/dev/null 2>&1 && break
  sleep 0.2
done

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
total_cases=0
total_failures=0
status=0
for role in owner admin auditor submitter billing anonymous; do
  headers=()
  if [ "$role" != anonymous ]; then
    key=$("$ancora" admin create-api-key --tenant "$tenant" --role "$role")
    headers=(-H "Authorization: Bearer $key")
  fi
  out=$work/$role.txt
  set +e
  "$venv/bin/schemathesis" run "$url/v1/openapi.json" --url "$url" "${headers[@]}" \
    --checks "$checks" --max-examples "$examples" --seed "$seed" \
    --workers 1 --no-color --suppress-health-check all --generation-database none \
    --phases examples,coverage,fuzzing \
    > "$out" 2>&1
  rc=$?
  set -e
  # "Test cases:" is followed by "  N generated, N passed[, N failed]…".
  line=$(grep -A1 '^Test cases:' "$out" | tail -1 | sed 's/^ *//' || true)
  n=$(echo "$line" | grep -Eo '^[0-9]+' || echo 0)
  # Failures read "…, N failed" or "…, found N unique failures".
  failed=$(echo "$line" | grep -Eo '[0-9]+ (unique failures?|failed)' | grep -Eo '^[0-9]+' || true)
  failed=${failed:-0}
  if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
  echo "api-fuzz: $role: ${line:-no summary} (exit $rc)"
  total_cases=$((total_cases + n))
  total_failures=$((total_failures + failed))
  if [ -z "$line" ]; then
    echo "api-fuzz: $role: schemathesis gave no summary:" >&2
    tail -20 "$out" >&2
  fi
  if [ "$rc" != 0 ]; then
    status=1
    sed -n '/FAILURES/,/SUMMARY/p' "$out" | head -120
    grep -E 'Error' "$out" | head -5
  fi
done
grep -E ' ERROR |panicked' "$work/serve.log" | head -20 || true
echo "api-fuzz: $total_cases cases, $total_failures failures (seed $seed, $examples examples per operation and role)"
exit $status
