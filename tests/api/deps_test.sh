#!/bin/bash
# Dependency test: libbrkmalloc.so is preloaded into C programs too, so it must load nothing but libc.
# Fails if `ldd` lists anything other than linux-vdso, libc.so.6 and the dynamic loader, or if the .so
# still asks libstdc++ for a symbol version (a versioned import without a NEEDED entry would make the
# loader refuse it in a C program).
# Usage: deps_test.sh <libbrkmalloc.so>
set -euo pipefail
so="$1"
export PATH="/usr/bin:/bin:$PATH"
[[ -f "$so" ]] || { echo "FAIL: missing file $so"; exit 1; }
status=0
deps="$(ldd "$so")"
echo "ldd $so:"; echo "$deps"
# First word of each line: the library's name (linux-vdso.so.1, libc.so.6, /lib64/ld-linux-x86-64.so.2, ...).
others="$(awk '{ print $1 }' <<<"$deps" | grep -vE '^(linux-vdso\.so\.1|libc\.so\.6|/lib64/ld-linux-x86-64\.so\.2)$' || true)"
if [[ -n "$others" ]]; then echo "FAIL: the .so depends on more than libc:"; sed 's/^/  /' <<<"$others"; status=1; fi
grep -q 'libc\.so\.6' <<<"$deps" || { echo "FAIL: ldd does not list libc.so.6 (not a dynamic library?)"; status=1; }
verneed="$(readelf -V "$so" | sed -n 's/.*File: \([^ ]*\).*/\1/p' | sort -u)"
echo "version requirements on: $(tr '\n' ' ' <<<"$verneed")"
if grep -qvE '^(libc\.so\.6|ld-linux-x86-64\.so\.2)$' <<<"$verneed"; then
  echo "FAIL: the .so requires symbol versions of another library"; status=1
fi
[[ $status == 0 ]] && echo "PASS: depends on libc alone"
exit $status
