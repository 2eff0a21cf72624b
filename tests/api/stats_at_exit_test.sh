#!/bin/bash
# BRKMALLOC_STATS=1 under LD_PRELOAD prints the statistics at exit, also for programs that close stderr in
# their own exit handlers (coreutils' close_stdout does): ls, sort and python3 must each end with the
# report on stderr, and their stdout must be what it is without the preload.
# Usage: stats_at_exit_test.sh <libbrkmalloc.so>
set -euo pipefail
export PATH="/usr/bin:/bin" LC_ALL=C
so="$(realpath "$1")"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/stats.XXXXXX")"
trap 'rm -rf "$work"' EXIT
status=0
check() {  # name cmd...
  local name=$1; shift
  "$@" >"$work/plain.out" 2>/dev/null
  env BRKMALLOC_STATS=1 LD_PRELOAD="$so" "$@" >"$work/pre.out" 2>"$work/pre.err"
  if ! cmp -s "$work/plain.out" "$work/pre.out"; then echo "FAIL $name: stdout differs under the preload"; status=1; fi
  if grep -q '^brkmalloc statistics' "$work/pre.err"; then
    echo "ok: $name prints the statistics at exit"
  else
    echo "FAIL $name: no statistics on stderr; got: $(head -c 300 "$work/pre.err")"; status=1
  fi
}
seq 1 20000 | sort -r > "$work/input"
check ls ls -la /usr/lib
check sort sort -n "$work/input"
check python3 python3 -c 'print(sum(len(str(i)) for i in range(100000)))'
exit $status
