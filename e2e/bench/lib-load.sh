# Shared by the ancora-load comparisons in this folder (sourced, not run): runs ancora-load with
# the given arguments and prints "<events/s> <µs CPU per event>" from its report.
# shellcheck shell=bash
load_run() {
  local out
  out=$("$load" --ancora "$ancora" --no-copy "$@" 2>&1) || { echo "$out" >&2; return 1; }
  echo "$out" | sed 's/^/    /' >&2
  local rate cpu
  rate=$(echo "$out" | sed -nE 's/^acknowledged events: .* = ([0-9]+) events\/s.*/\1/p')
  cpu=$(echo "$out" | sed -nE 's/^server CPU .* = ([0-9.]+) µs per event/\1/p')
  echo "${rate:-0} ${cpu:-0}"
}

median() {
  sort -g | awk '{a[NR]=$1} END {if (NR == 0) {print 0} else if (NR % 2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'
}
