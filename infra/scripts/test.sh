#!/usr/bin/env bash
# Runs every test Ancora has, on a fresh Debian machine with the Rust toolchain.
# It installs or starts what the tests need:
#   - PostgreSQL: uses DATABASE_URL if set, else the server on 127.0.0.1:5432 if it admits the
#     current user, else a private throwaway cluster (installing Debian's postgresql if the
#     binaries are missing);
#   - cargo-nextest, cargo-deny and s3s-fs (the archive tests' S3 server), if missing; moto's
#     S3 server (PyPI, into target/moto-venv) for the Object Lock tests; Redis (the shared proof
#     cache's tests) on 127.0.0.1:6379 if none runs there;
#   - Node.js and npm, the npm packages of the tests (Kadena's JS libraries for the differential
#     test, Playwright, the JS SDK's build tools), Debian's Chromium and poppler-utils (no
#     browser download).
# Then: rustfmt check, clippy (warnings are errors), cargo deny (licenses, bans, sources), the
# proof core's and the service's tests (nextest; the short form of the reliability suite, see
# e2e/bench/reliability.sh), doc tests, the .sqlx offline data check, the API fuzzing's short
# form (schemathesis from PyPI, installed into target/), and the fuzz targets' build.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
log() { printf '\n==> %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_ready=0
apt_install() {
  if [ $apt_ready = 0 ]; then as_root apt-get update -qq; apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL ------------------------------------------------------------------------------
pg_bin() {
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  command -v initdb >/dev/null && dirname "$(command -v initdb)"
}
if [ -z "${DATABASE_URL:-}" ]; then
  command -v psql >/dev/null || apt_install postgresql-client
  if psql -h 127.0.0.1 -p 5432 -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    export DATABASE_URL="postgres://$(id -un)@127.0.0.1:5432/postgres"
  else
    log "starting a private PostgreSQL cluster for the tests"
    [ -n "$(pg_bin)" ] || apt_install postgresql
    bin=$(pg_bin)
    pgdir=$(mktemp -d /tmp/ancora-test-pg.XXXXXX)
    port=55432
    runas=()
    if [ "$(id -u)" = 0 ]; then chown postgres "$pgdir"; runas=(runuser -u postgres --); fi
    "${runas[@]}" "$bin/initdb" -D "$pgdir/data" -U root --auth=trust --no-locale -E UTF8 >/dev/null
    "${runas[@]}" "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c max_connections=300 -c fsync=off" start >/dev/null
    trap '"${runas[@]}" "$bin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true' EXIT
    export DATABASE_URL="postgres://root@127.0.0.1:$port/postgres"
  fi
fi
log "PostgreSQL: ${DATABASE_URL%%@*}@…"
# The first migration creates the cluster-wide role ancora_app when it is missing; test
# databases migrate in parallel, and two first migrations on a new server would race to create
# it. Create it once here, exactly as the migration does.
psql "$DATABASE_URL" -qAtc "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ancora_app') THEN CREATE ROLE ancora_app NOLOGIN; END IF; END \$\$" >/dev/null

# --- Node.js, npm packages, Chromium ---------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
[ -x /usr/bin/chromium ] || apt_install chromium
command -v pdftotext >/dev/null || apt_install poppler-utils
# Python with venv and pip, for schemathesis (the API fuzzing's short form).
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3 python3-venv
log "npm packages"
npm ci --prefix backend/chainweb/tests/js --no-audit --no-fund --loglevel=error
(cd e2e/portal && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

# --- Rust tools ------------------------------------------------------------------------------
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked
# The archive's tests run a real S3-protocol server (SigV4 enforced) on 127.0.0.1.
command -v s3s-fs >/dev/null || [ -x "$HOME/.cargo/bin/s3s-fs" ] \
  || cargo install s3s-fs@0.14.1 --features binary --locked
# Object Lock has no s3s-fs support: those tests run moto's S3 server (PyPI, pinned, in target/).
moto_version=5.2.1
moto_venv=$root/target/moto-venv
if ! "$moto_venv/bin/python" -c "import sys, moto; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; then
  log "moto $moto_version (S3 Object Lock tests) into $moto_venv"
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$moto_version"
fi
export MOTO_SERVER=$moto_venv/bin/moto_server
# The shared proof cache's tests use a real Redis on 127.0.0.1:6379: this machine kind runs
# one; start one (installing Debian's redis-server if needed) when it is not there.
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  log "starting Redis on 127.0.0.1:6379 (the shared proof cache's tests)"
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.1; done
fi
# Build against the committed .sqlx offline data, never a live schema.
export SQLX_OFFLINE=true
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

log "rustfmt"
cargo fmt --all --check

log "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "dependencies: licenses, bans, sources (cargo deny, deny.toml; no advisories: their database cannot be fetched here)"
cargo deny --locked check licenses bans sources

log "offline query data (.sqlx/) matches the queries"
PGURL="${DATABASE_URL%/*}" infra/scripts/sqlx-prepare.sh --check

log "tests (nextest)"
nextest_log=$(mktemp)
cargo nextest run --workspace --locked --profile ci 2>&1 | tee "$nextest_log"
rust_passed=$(grep -Eo '[0-9]+ passed' "$nextest_log" | tail -n 1 | grep -Eo '[0-9]+')

log "doc tests"
cargo test --workspace --doc --locked -q

log "JS SDK (web/verify): build, committed copy, type check, node tests"
sdk_log=$(mktemp)
web/verify/test.sh 2>&1 | tee "$sdk_log"
sdk_passed=$(grep -Eo '^# pass [0-9]+' "$sdk_log" | tail -n 1 | grep -Eo '[0-9]+')

log "browser end-to-end (Playwright in Chromium against ancora serve)"
pw_log=$(mktemp)
e2e/portal/run.sh 2>&1 | tee "$pw_log"
pw_passed=$(grep -Eo '[0-9]+ passed' "$pw_log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)

log "API fuzzing, short form (schemathesis against /v1/openapi.json, every role)"
fuzz_log=$(mktemp)
API_FUZZ_EXAMPLES=3 API_FUZZ_SEED=1 e2e/bench/api-fuzz.sh 2>&1 | tee "$fuzz_log"

log "deployment files (infra/): linters, schemas, and the compose commands as processes"
PGURL="${DATABASE_URL%/*}" infra/scripts/check-infra.sh

if [ -d backend/proof/fuzz ]; then
  log "fuzz targets build (not run)"
  (cd backend/proof/fuzz && cargo build --locked -q)
fi

log "all checks passed"
# Every step above stops the script on failure, so reaching here means nothing failed.
echo "tests: $((rust_passed + pw_passed + sdk_passed)) passed, 0 failed"
