#!/bin/bash
# Real programs under LD_PRELOAD=libbrkmalloc.so, each output compared with a run without the preload:
#   pipeline  seq | awk | sort | uniq | sort | awk, and seq | sort -r | uniq | wc -l
#   python    /usr/bin/python3 with PYTHONMALLOC=malloc: dicts, strings, json round trip, big bytes
#   git       init a repository, commit files in several commits, git log --stat, git gc, git fsck
#   sort      sort (2 threads, 64 MiB buffer) of a generated file of about 40 MiB, numeric and text keys
# Proof that the preload took effect: the preloaded run has LD_DEBUG=bindings (LD_DEBUG_OUTPUT, one file per
# process); every process's file must show malloc bound to libbrkmalloc.so and none may bind malloc, free,
# calloc or realloc to libc.so.6.
# Usage: real_program_test.sh <pipeline|python|git|sort> <libbrkmalloc.so>
#        (real_program_test.sh --body <scenario> <dir> runs one scenario's commands; used internally)
set -euo pipefail
export PATH="/usr/bin:/bin"
export LC_ALL=C

body_pipeline() {
  seq 1 300000 | awk '{ print ($1 * 7919) % 100003, $1 }' | sort -k1,1n -k2,2nr | uniq -c -w6 \
    | sort -k1,1nr -k2,2n | awk 'NR <= 100' 
  seq 1 200000 | sort -r | uniq | wc -l
}

body_python() {
  PYTHONMALLOC=malloc /usr/bin/python3 -c '
import json, hashlib
d = {}
for i in range(60000):
    d["key-%d" % i] = {"n": i, "s": ("v%d" % (i * 7)) * (i % 13), "l": list(range(i % 17))}
for i in range(0, 60000, 3):
    del d["key-%d" % i]
text = json.dumps(d, sort_keys=True)
back = json.loads(text)
assert back == d
words = sorted(set(text.replace("\"", " ").replace(",", " ").split()))
big = b"x" * (32 << 20)
joined = "".join(str(len(w)) for w in words)
print(len(d), len(text), len(words), len(big), hashlib.sha256(text.encode()).hexdigest())
print(hashlib.sha256(joined.encode()).hexdigest(), sum(v["n"] for v in back.values()))
'
}

body_git() {
  local dir="$1"
  export HOME="$dir" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com
  export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
  export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
  git init -q -b main "$dir/repo"
  cd "$dir/repo"
  git config pack.threads 1
  for c in 1 2 3 4 5; do
    awk -v c="$c" 'BEGIN { for (f = 1; f <= 60; f++) { name = "file" f ".txt";
         for (l = f * c; l <= f * c + 400 + f; l++) print "commit " c " file " f " line " l > name; close(name) } }' 
    git add -A
    git commit -q -m "commit $c"
  done
  git log --stat --format='%H %s'
  git gc -q
  git fsck --full --strict
  git count-objects -v
  git rev-list --objects --all | wc -l
}

body_sort() {
  local dir="$1"
  awk 'BEGIN { x = 12345; for (i = 0; i < 1500000; i++) { x = (x * 1103515245 + 12345) % 2147483648;
       printf "%d %s-%d\n", x % 1000003, substr("abcdefghijklmnopqrstuvwxyz", x % 26 + 1, 5), i } }' >"$dir/in.txt"
  sort -S 64M --parallel=2 -k1,1n -k2,2 "$dir/in.txt" | sha256sum
  sort -S 64M --parallel=2 -r "$dir/in.txt" | sha256sum
  wc -c <"$dir/in.txt"
}

if [[ "$1" == --body ]]; then
  "body_$2" "$3"
  exit
fi

scenario="$1"
so="$2"
[[ "$so" == /* ]] || so="$PWD/$so"
[[ -f "$so" ]] || { echo "FAIL: no such library $so"; exit 1; }
declare -F "body_$scenario" >/dev/null || { echo "unknown scenario $scenario"; exit 2; }
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/real.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ref" "$work/brk" "$work/ld"

start=$SECONDS
env -u LD_PRELOAD bash "$self" --body "$scenario" "$work/ref" >"$work/ref.out" 2>"$work/ref.err" \
  || { echo "FAIL: the run without preload failed:"; tail -20 "$work/ref.err"; exit 1; }
ref_time=$((SECONDS - start))
start=$SECONDS
LD_PRELOAD="$so" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$work/ld/ld" \
  bash "$self" --body "$scenario" "$work/brk" >"$work/brk.out" 2>"$work/brk.err" \
  || { echo "FAIL: the run under libbrkmalloc.so failed:"; tail -20 "$work/brk.err"; exit 1; }
brk_time=$((SECONDS - start))

status=0
if cmp -s "$work/ref.out" "$work/brk.out"; then
  echo "ok: output identical ($(wc -l <"$work/ref.out") lines, sha256 $(sha256sum <"$work/ref.out" | cut -c1-16)...;" \
    "${ref_time}s without, ${brk_time}s with preload + LD_DEBUG)"
else
  echo "FAIL: output differs from the run without preload:"
  diff "$work/ref.out" "$work/brk.out" | head -20
  status=1
fi

# Every process of the preloaded run: malloc bound to our .so, nothing bound to glibc's malloc family.
procs=0
bad=0
for f in "$work"/ld/ld.*; do
  [[ -e "$f" ]] || continue
  procs=$((procs + 1))
  prog="$(grep -oE 'binding file [^ /]+ \[0\]' "$f" | awk '$3 !~ /^linux-vdso/ { print $3; exit }' || true)"
  if ! grep -qF "to $so [0]: normal symbol \`malloc'" "$f"; then
    echo "FAIL: process ${f##*.} (${prog:-?}) did not bind malloc to ${so##*/}"; bad=1
  fi
  if grep -qE "to [^ ]*libc\.so\.6 \[0\]: normal symbol \`(malloc|free|calloc|realloc)'" "$f"; then
    echo "FAIL: process ${f##*.} bound part of the malloc family to glibc:"
    grep -E "to [^ ]*libc\.so\.6 \[0\]: normal symbol \`(malloc|free|calloc|realloc)'" "$f" | head -3
    bad=1
  fi
done
min_procs=2  # the wrapper bash and at least one program
if ((procs < min_procs)); then echo "FAIL: only $procs LD_DEBUG files (expected one per process)"; bad=1; fi
if ((bad == 0)); then echo "ok: all $procs processes bound malloc to ${so##*/} and none to glibc"; else status=1; fi
grep -h -oE 'binding file [^ ]+ \[0\] to [^ ]*libbrkmalloc\.so \[0\]: normal symbol `malloc' "$work"/ld/ld.* 2>/dev/null \
  | awk '{print $3}' | sort | uniq -c | sed 's/^/  malloc from /'
if [[ -s "$work/brk.err" ]]; then echo "--- stderr of the preloaded run:"; head -20 "$work/brk.err"; fi
[[ $status == 0 ]] && echo "PASS ($scenario)" || echo "FAIL ($scenario)"
exit $status
