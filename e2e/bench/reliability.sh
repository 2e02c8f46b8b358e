#!/usr/bin/env bash
# The reliability suite, long form (issue 17). One command:
#
#   e2e/bench/reliability.sh
#
#   1. crash faults: SIGKILL of the API process and of workers at random moments under load,
#      ANCORA_FAULT_TRIALS (100) trials;
#   2. dependency faults: a private throwaway Postgres stopped ANCORA_FAULT_PG_OUTAGE_SECS (30)
#      under load; the Chainweb node double failing and reorganising, ANCORA_FAULT_CHAINWEB_ROUNDS
#      (20) faults; the S3 server killed in the middle of an archiving pass; the archive's disk
#      (a small tmpfs, file:// and s3s-fs) filling up mid-pass, then freed;
#   3. fuzzing: every libFuzzer target of backend/proof/fuzz (bundles, proof objects, SPV
#      responses and payload proofs, block headers binary and JSON, event leaves, checkpoints)
#      for FUZZ_SECS (120) each, under AddressSanitizer on the stable toolchain
#      (RUSTC_BOOTSTRAP=1 cargo fuzz run), and the API bodies of every /v1 route under mutation
#      for ANCORA_FUZZ_API_SECS (120).
#
# Prints the figures and writes them into RELIABILITY.md (between the "latest run" markers).
# The short form of 1–3 (small defaults, no libFuzzer run) is part of infra/scripts/test.sh.
# Postgres for the crash/Chainweb tests: DATABASE_URL (default the server on 127.0.0.1:5432);
# the outage test always starts its own private cluster.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
log() { printf '\n==> %s\n' "$*" >&2; }

export ANCORA_FAULT_TRIALS=${ANCORA_FAULT_TRIALS:-100}
export ANCORA_FAULT_PG_OUTAGE_SECS=${ANCORA_FAULT_PG_OUTAGE_SECS:-30}
export ANCORA_FAULT_CHAINWEB_ROUNDS=${ANCORA_FAULT_CHAINWEB_ROUNDS:-20}
export ANCORA_FUZZ_API_SECS=${ANCORA_FUZZ_API_SECS:-120}
FUZZ_SECS=${FUZZ_SECS:-120}
export DATABASE_URL=${DATABASE_URL:-postgres://$(id -un)@127.0.0.1:5432/postgres}
export SQLX_OFFLINE=true CARGO_TERM_COLOR=never
out="$root/e2e/artifacts/reliability"
mkdir -p "$out"
started=$(date -u +%Y-%m-%dT%H:%MZ)

command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked

# --- 1, 2 and the API fuzzing: the fault tests with long-form settings -------------------------
log "fault tests and API-body fuzzing (trials $ANCORA_FAULT_TRIALS, outage ${ANCORA_FAULT_PG_OUTAGE_SECS}s, chainweb rounds $ANCORA_FAULT_CHAINWEB_ROUNDS, API fuzz ${ANCORA_FUZZ_API_SECS}s)"
status=0
cargo nextest run -p ancora --profile ci --no-capture --no-fail-fast \
  -E 'test(/^faults::|^fuzz_api::|^archive::faults::|^archive::s3::the_store_stopping/)' 2>&1 | tee "$out/faults.log" || status=1
figures=$(grep -E '^(FAULTS|FUZZ) ' "$out/faults.log" || true)

# --- 3. libFuzzer targets -----------------------------------------------------------------------
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
fuzz_lines=""
cd "$root/backend/proof"
for target in $(cargo fuzz list); do
  log "fuzz $target for ${FUZZ_SECS}s"
  flog="$out/fuzz-$target.log"
  set +e
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$FUZZ_SECS" -print_final_stats=1 \
    -rss_limit_mb=2048 >"$flog" 2>&1
  code=$?
  set -e
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$flog" | grep -Eo '[0-9]+$' | tail -n1)
  crashes=$(find "fuzz/artifacts/$target" -type f 2>/dev/null | wc -l)
  [ "$code" = 0 ] || status=1
  line="FUZZ libfuzzer target=$target secs=$FUZZ_SECS executions=${execs:-0} crashes=$crashes exit=$code"
  echo "$line"
  fuzz_lines="$fuzz_lines$line"$'\n'
done
cd "$root"
figures="$figures"$'\n'"$fuzz_lines"

# --- RELIABILITY.md ---------------------------------------------------------------------------
log "figures"
echo "$figures"
block=$(printf '<!-- reliability:begin -->\nLatest long-form run: %s, %s, `e2e/bench/reliability.sh` (debug build, 2 cores).\n\n```text\n%s\n```\n<!-- reliability:end -->' \
  "$started" "$(uname -m)" "$(echo "$figures" | sed '/^$/d')")
python3 - "$root/RELIABILITY.md" "$block" <<'EOF'
import re, sys
path, block = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r'<!-- reliability:begin -->.*?<!-- reliability:end -->', lambda m: block, text, flags=re.S)
open(path, 'w').write(text)
EOF
log "RELIABILITY.md updated"
exit $status
