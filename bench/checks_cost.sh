#!/bin/bash
# What brkmalloc's full checks cost on the fast path: instructions per malloc(64)+free pair under
# callgrind, with the default checks (page map, double free) and with BRKMALLOC_CHECKS=full (also
# interior/misaligned pointers and encoded, range-checked free-list links) and with
# BRKMALLOC_CHECKS=hardened (also canaries, zero-on-free with its check, quarantine), on the same build, and
# with the heap profiler on at its default rate (BRKMALLOC_PROFILE; allocator/prof.h). Same
# method as bench/run.py: Ir(N2) - Ir(N1), counted inside run_pairs only.
# Usage (from the repo root, after scripts/setup.sh): bench/checks_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build //preload:libbrkmalloc.so //bench:pairs >/dev/null 2>&1
n1=100000 n2=200000
prof_dir="$(mktemp -d)"
trap 'rm -rf "$prof_dir"' EXIT
ir() {  # checks n [profile prefix]
  local out; out="$(mktemp)"
  BRKMALLOC_CHECKS="$1" BRKMALLOC_PROFILE="${3:-}" LD_PRELOAD=bazel-bin/preload/libbrkmalloc.so valgrind --tool=callgrind \
    --callgrind-out-file="$out" --toggle-collect=run_pairs bazel-bin/bench/pairs "$2" >/dev/null 2>&1
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
  rm -f "$out"
}
declare -A per_pair
for mode in default full hardened; do
  a="$(ir $mode $n1)"; b="$(ir $mode $n2)"
  per_pair[$mode]="$(awk -v a="$a" -v b="$b" -v n=$((n2 - n1)) 'BEGIN {printf "%.1f", (b - a) / n}')"
  echo "BRKMALLOC_CHECKS=$mode: ${per_pair[$mode]} instructions per malloc(64)+free pair"
done
for mode in full hardened; do
  awk -v m=$mode -v f="${per_pair[$mode]}" -v d="${per_pair[default]}" \
    'BEGIN {printf "%s checks cost %.1f instructions per pair more, +%.1f%%\n", m, f - d, 100 * (f - d) / d}'
done
a="$(ir default $n1 "$prof_dir/p")"; b="$(ir default $n2 "$prof_dir/p")"
p="$(awk -v a="$a" -v b="$b" -v n=$((n2 - n1)) 'BEGIN {printf "%.1f", (b - a) / n}')"
echo "BRKMALLOC_PROFILE (default rate, 512K): $p instructions per malloc(64)+free pair, sampling included"
