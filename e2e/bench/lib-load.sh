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

# The median of a space-separated list of numbers.
runs_median() {
  echo "$1" | tr ' ' '\n' | grep . | median
}

# Prints the medians of the caller's runs (associative arrays `rates` and `cpus`, keyed `on`
# and `off`, each a space-separated list) and what "on" costs against "off":
#   report_on_off "<what on is, for the cost line>" <goal in %> [<prefix of the median lines>]
report_on_off() {
  local what=$1 goal=$2 prefix=${3:-} mode
  echo
  for mode in on off; do
    echo "$prefix$mode: median $(runs_median "${rates[$mode]}") events/s, $(runs_median "${cpus[$mode]}") µs server CPU per event (runs: ${rates[$mode]% })"
  done
  awk -v ron="$(runs_median "${rates[on]}")" -v roff="$(runs_median "${rates[off]}")" \
    -v con="$(runs_median "${cpus[on]}")" -v coff="$(runs_median "${cpus[off]}")" \
    -v what="$what" -v goal="$goal" 'BEGIN {
    printf "cost of %s: throughput %+.1f %%, CPU per event %+.1f %% (goal: ≤ %s %%)\n", what,
      (roff > 0 ? (roff - ron) / roff * 100 : 0), (coff > 0 ? (con - coff) / coff * 100 : 0), goal }'
}
