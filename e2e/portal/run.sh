#!/usr/bin/env bash
# Browser tests of the portal: builds `ancora`, starts `ancora serve` on a fresh database,
# seeds a tenant, users and one proved event through the real API and workers, runs
# Playwright in Debian's Chromium, and leaves screenshots in e2e/artifacts/.
#
# Needs: Postgres reachable at $E2E_DATABASE_ADMIN_URL (default postgres://root@127.0.0.1:5432/postgres),
# chromium and node/npm (apt-get install -y chromium nodejs npm). Never downloads a browser.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
art="$root/e2e/artifacts"
mkdir -p "$art/screenshots"

admin_url=${E2E_DATABASE_ADMIN_URL:-postgres://root@127.0.0.1:5432/postgres}
db="ancora_e2e_$$"
port=${E2E_PORT:-18080}
export DATABASE_URL="${admin_url%/*}/$db"
export ANCORA_URL="http://127.0.0.1:$port"
export ANCORA_E2E_PASSWORD="e2e password long enough"
export ANCORA_ADMIN_PASSWORD="$ANCORA_E2E_PASSWORD"
export ANCORA_BATCH_WINDOW_MS=200

psql "$admin_url" -q -c "CREATE DATABASE $db"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT

(cd "$root" && cargo build -p ancora --bin ancora)
bin="$root/target/debug/ancora"
"$bin" migrate

tenant=$("$bin" admin create-tenant "E2E tenant")
export ANCORA_E2E_TENANT="$tenant"
export ANCORA_E2E_AUDITOR="auditor@e2e.test" ANCORA_E2E_SUBMITTER="submitter@e2e.test"
"$bin" admin create-user --email "$ANCORA_E2E_AUDITOR" --tenant "$tenant" --role auditor >/dev/null
"$bin" admin create-user --email "$ANCORA_E2E_SUBMITTER" --tenant "$tenant" --role submitter >/dev/null
key=$("$bin" admin create-api-key --tenant "$tenant" --role submitter --name e2e)

"$bin" serve --listen "127.0.0.1:$port" >"$art/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "$ANCORA_URL/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

export ANCORA_E2E_EVENT="inv-e2e-0001"
export ANCORA_E2E_DIGEST=$(printf 'invoice e2e' | sha256sum | cut -d' ' -f1)
curl -fsS -X POST "$ANCORA_URL/v1/events" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"events\":[{\"id\":\"$ANCORA_E2E_EVENT\",\"digest\":\"sha256:$ANCORA_E2E_DIGEST\"}]}" >/dev/null
for _ in $(seq 1 150); do
  curl -fsS "$ANCORA_URL/v1/events/$ANCORA_E2E_EVENT/proof" -H "Authorization: Bearer $key" >/dev/null 2>&1 && break
  sleep 0.2
done

cd "$here"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
[ -d node_modules ] || npm ci --no-audit --no-fund
npx playwright test
echo "screenshots: $art/screenshots"
