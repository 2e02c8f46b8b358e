#!/usr/bin/env bash
# Browser tests of the portal: builds `ancora` (debug profile, against the committed .sqlx
# offline data like infra/scripts/test.sh), starts `ancora serve` on a throwaway database, seeds
# a tenant, users and one proved event through the real CLI, API and workers, runs Playwright
# in Debian's Chromium, and leaves screenshots in e2e/artifacts/screenshots/. The server and the
# database are removed on every exit, failures included.
#
# Postgres: E2E_DATABASE_ADMIN_URL, else DATABASE_URL (any database of the server: a new one is
# created beside it), else the server on 127.0.0.1:5432 as the current user.
# Installs what is missing when it can (chromium, poppler-utils, node/npm via apt; the npm
# packages with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1). Never downloads a browser.
#
# Knobs: ANCORA_BIN (a prebuilt binary: skip the build), SQLX_OFFLINE (default true),
# E2E_PORT (default: a free port from 18080 up), CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
art="$root/e2e/artifacts"
rm -rf "$art/screenshots" "$art/test-results"
mkdir -p "$art/screenshots"
log() { printf '==> %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_ready=0
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return
  if [ $apt_ready = 0 ]; then as_root apt-get update -qq; apt_ready=1; fi
  log "installing $2"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$2" >/dev/null
}
need psql postgresql-client
need node nodejs
need npm npm
need pdftotext poppler-utils
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || need chromium chromium

# --- build (before DATABASE_URL is pointed at the empty e2e database) ------------------------
if [ -z "${ANCORA_BIN:-}" ]; then
  log "building ancora (debug)"
  (cd "$root" && SQLX_OFFLINE=${SQLX_OFFLINE:-true} cargo build -q -p ancora --bin ancora --locked)
  ANCORA_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/ancora"
fi
bin=$ANCORA_BIN

# --- database and server ---------------------------------------------------------------------
admin_url=${E2E_DATABASE_ADMIN_URL:-${DATABASE_URL:-postgres://$(id -un)@127.0.0.1:5432/postgres}}
admin_url=${admin_url%%\?*}
db="ancora_e2e_$$"
free_port() {
  local p=${E2E_PORT:-18080}
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
port=$(free_port)
export DATABASE_URL="${admin_url%/*}/$db"
export ANCORA_URL="http://127.0.0.1:$port"
export ANCORA_E2E_PASSWORD="e2e password long enough"
export ANCORA_ADMIN_PASSWORD="$ANCORA_E2E_PASSWORD"
export ANCORA_BATCH_WINDOW_MS=200
export ANCORA_LOG=${ANCORA_LOG:-info,sqlx=warn}

server_pid=""
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  [ $rc = 0 ] || log "failed (exit $rc); server log: $art/server.log"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql "$admin_url" -q -c "CREATE DATABASE $db"
"$bin" migrate >/dev/null

tenant=$("$bin" admin create-tenant "E2E tenant")
export ANCORA_E2E_TENANT="$tenant"
export ANCORA_E2E_AUDITOR="auditor@e2e.test" ANCORA_E2E_SUBMITTER="submitter@e2e.test"
"$bin" admin create-user --email "$ANCORA_E2E_AUDITOR" --tenant "$tenant" --role auditor >/dev/null
"$bin" admin create-user --email "$ANCORA_E2E_SUBMITTER" --tenant "$tenant" --role submitter >/dev/null
key=$("$bin" admin create-api-key --tenant "$tenant" --role submitter --name e2e)

log "starting ancora serve on $ANCORA_URL"
"$bin" serve --listen "127.0.0.1:$port" >"$art/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do
  curl -fsS "$ANCORA_URL/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { log "ancora serve exited"; exit 1; }
  sleep 0.2
done
curl -fsS "$ANCORA_URL/readyz" >/dev/null

export ANCORA_E2E_EVENT="inv-e2e-0001"
export ANCORA_E2E_DIGEST=$(printf 'invoice e2e' | sha256sum | cut -d' ' -f1)
curl -fsS -X POST "$ANCORA_URL/v1/events" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"events\":[{\"id\":\"$ANCORA_E2E_EVENT\",\"digest\":\"sha256:$ANCORA_E2E_DIGEST\"}]}" >/dev/null
proved=0
for _ in $(seq 1 150); do
  if curl -fsS "$ANCORA_URL/v1/events/$ANCORA_E2E_EVENT/proof" -H "Authorization: Bearer $key" >/dev/null 2>&1; then
    proved=1; break
  fi
  sleep 0.2
done
[ $proved = 1 ] || { log "the seeded event was not proved within 30 s"; exit 1; }

# --- browser ---------------------------------------------------------------------------------
cd "$here"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
[ -d node_modules/@playwright/test ] || npm ci --no-audit --no-fund --loglevel=error
log "playwright"
npx --no-install playwright test
log "screenshots: $art/screenshots"
