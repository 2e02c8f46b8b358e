#!/usr/bin/env bash
# Regenerates .sqlx/ (the offline query data that lets the crate build without a database),
# like `cargo sqlx prepare`, without needing sqlx-cli: the sqlx macros write their data to
# SQLX_OFFLINE_DIR when they expand against a live database.
#
# Usage: infra/scripts/sqlx-prepare.sh            (uses postgres://root@127.0.0.1:5432)
#        PGURL=postgres://user@host:port infra/scripts/sqlx-prepare.sh
#        infra/scripts/sqlx-prepare.sh --check   (fails when .sqlx/ is stale)
#        SQLX_PREPARE_DB=name ...                (scratch database name; default ancora_sqlx_prepare)
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${PGURL:-postgres://root@127.0.0.1:5432}
db=${SQLX_PREPARE_DB:-ancora_sqlx_prepare}
psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
for f in migrations/*.sql; do
  psql "$base/$db" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null
done
out=.sqlx
if [ "${1:-}" = "--check" ]; then out=$(mktemp -d); fi
rm -rf "$out" && mkdir -p "$out"
# Force the macros to expand again.
find backend/ancora/src backend/ancora/tests -name '*.rs' -exec touch {} +
case $out in /*) dir=$out ;; *) dir=$PWD/$out ;; esac
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$dir" DATABASE_URL="$base/$db" \
  cargo check -q -p ancora --all-targets
if [ "${1:-}" = "--check" ]; then
  if ! diff -rq "$out" .sqlx >/dev/null; then
    echo ".sqlx/ is stale: run infra/scripts/sqlx-prepare.sh and commit it" >&2
    exit 1
  fi
  echo ".sqlx/ is up to date"
else
  echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"
fi
