#!/bin/bash
# What brkmalloc's full hardening checks cost on the fast path (issue: misuse): instructions per
# malloc(64)+free pair under callgrind, for the default build and for one built with -DBRK_FULL_CHECKS=0
# (no encoded free-list links, no range check on pop, no interior-pointer check on free; the double-free
# mark and the page-map check stay). Same method as bench/run.py: Ir(N2) - Ir(N1) inside run_pairs only.
# Usage (from the repo root, after scripts/setup.sh): bench/checks_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
n1=100000 n2=200000
ir() {  # binary preload n
  local out; out="$(mktemp)"
  LD_PRELOAD="$2" valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect=run_pairs \
    "$1" "$3" >/dev/null 2>&1
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
  rm -f "$out"
}
declare -A per_pair
for variant in checks nochecks; do
  flags=(); [[ $variant == nochecks ]] && flags=(--config=nochecks)
  # --symlink_prefix=/ leaves the bazel-bin symlink of the default build alone.
  bazel build "${flags[@]}" --symlink_prefix=/ //preload:libbrkmalloc.so //bench:pairs >/dev/null 2>&1
  bin="$(bazel info "${flags[@]}" bazel-bin 2>/dev/null)"
  a="$(ir "$bin/bench/pairs" "$bin/preload/libbrkmalloc.so" $n1)"
  b="$(ir "$bin/bench/pairs" "$bin/preload/libbrkmalloc.so" $n2)"
  per_pair[$variant]="$(awk -v a="$a" -v b="$b" -v n=$((n2 - n1)) 'BEGIN {printf "%.1f", (b - a) / n}')"
  echo "$variant: ${per_pair[$variant]} instructions per malloc(64)+free pair"
done
awk -v c="${per_pair[checks]}" -v n="${per_pair[nochecks]}" \
  'BEGIN {printf "full checks cost %.1f instructions per pair, %.1f%% of the unchecked path\n", c - n, 100 * (c - n) / n}'
