#!/usr/bin/env bash
# Shared proof cache (issue 14, item 6): does Redis behind the in-process proof caches pay
# with two API processes? Runs `ancora-load --read-shared`: a scratch database on the Postgres
# of DATABASE_URL filled with EVENTS proved events (default 20 000), every bundle read once
# through Redis (as a long-running deployment would have it), then two `serve --api-only`
# processes, the connections alternating between their ports, without and with
# ANCORA_REDIS_URL in turn (the order alternates each round), ROUNDS times (2) for each
# in-process budget of CACHE_MB (64 — the default — and 8, a catalog much larger than memory):
# random proof reads closed loop at saturation and open loop at 1 000 and 5 000 requests/s,
# p50/p95/p99, where the reads were answered, the load average; then the medians.
# A benchmark, not a test (the tests: backend/ancora/tests/proof_cache_redis.rs).
#
#   cargo build --release -p ancora -p ancora-load && e2e/bench/read-redis.sh
#   EVENTS=200000 e2e/bench/read-redis.sh
#
# Knobs: DATABASE_URL (postgres://root@127.0.0.1:5432/postgres), REDIS_URL
# (redis://127.0.0.1:6379), EVENTS, ROUNDS, CACHE_MB (64,8), SECONDS_PER_PHASE (10),
# CARGO_TARGET_DIR; extra arguments go to ancora-load (`--rates 1000,5000`, `--connections 32`,
# `--warm-all`: each process first reads every proof once, the steady state of long-running
# processes, instead of a cold memory and half a phase of warm-up).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export DATABASE_URL=${DATABASE_URL:-postgres://root@127.0.0.1:5432/postgres}
target=${CARGO_TARGET_DIR:-$root/target}
for b in "$target/release/ancora" "$target/release/ancora-load"; do
  [ -x "$b" ] || { echo "read-redis: $b is missing; run cargo build --release -p ancora -p ancora-load" >&2; exit 1; }
done
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
echo "machine: $(nproc) cores; $(uptime)" >&2
exec "$target/release/ancora-load" --read-shared --ancora "$target/release/ancora" \
  --redis-url "$redis_url" --events "${EVENTS:-20000}" --rounds "${ROUNDS:-2}" \
  --cache-mb "${CACHE_MB:-64,8}" --read-seconds "${SECONDS_PER_PHASE:-10}" "$@"
