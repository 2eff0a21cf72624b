#!/bin/bash
# Export test: libbrkmalloc.so must export exactly glibc's and libstdc++'s allocation surface, and
# libbrkmalloc.a must define all of it plus every global of glibc's malloc.o (else a -static link pulls
# glibc's malloc.o in and fails with "multiple definition of malloc").
# The expected names come from the installed glibc and libstdc++ themselves, not from a typed-in list:
#   G   = globals defined by libc.a's malloc.o (a -static link pulls that object in for any one of them)
#   PUB = names libc.so.6 exports (not GLIBC_PRIVATE) at the address of a global of malloc.o or
#         reallocarray.o: malloc, __libc_malloc, reallocarray, cfree (an alias of free), ...
#         (reallocarray.o only calls realloc and defines reallocarray weakly, so its own internal name
#         __libc_reallocarray is not needed in the archive.)
#   CXX = every operator new/delete libstdc++.so.6 exports; C23 = free_sized, free_aligned_sized
#   OURS = brkmalloc's own exported names: brk_prof_dump (the heap profiler's dump, allocator/brkmalloc.h)
# .so:  must export exactly PUB + CXX + C23 + OURS + __posix_memalign (README promises it). Every defined entry
#       of .dynsym counts, whatever its type (function, object, TLS) and binding (global, weak, unique, and
#       local: gold puts hidden initial-exec TLS variables there as LOCAL entries, which is how
#       tls_heap/tls_fast_owner/tls_state once leaked). A fixture built here with gold proves the reader
#       sees such an entry, so this test cannot pass by reading too little.
# .a:   must define PUB + CXX + C23 + G.
# Usage: export_test.sh <libbrkmalloc.so> <libbrkmalloc.a>
set -euo pipefail
so="$1"
archive="$2"
libc_a="$(gcc -print-file-name=libc.a)"
libc_so="$(gcc -print-file-name=libc.so.6)"
libstdcxx_so="$(g++ -print-file-name=libstdc++.so.6)"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/export.XXXXXX")"
trap 'rm -rf "$work"' EXIT
for f in "$so" "$archive" "$libc_a" "$libc_so" "$libstdcxx_so"; do
  [[ -f "$f" ]] || { echo "FAIL: missing file $f"; exit 1; }
done

# Defined global/weak names (uppercase nm types), version suffixes stripped.
defined() { awk 'NF >= 3 && $2 ~ /^[TWiVDBR]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u; }
# Every defined .dynsym entry of a shared object, any type or binding, as "name TYPE BIND".
dynamic_entries() {
  readelf --dyn-syms -W "$1" | awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $8 != "" { n = $8; sub(/@.*/, "", n); print n, $4, $5 }' | sort -u
}

# Self-check of dynamic_entries: a hidden TLS variable that gold leaves in .dynsym as LOCAL must be seen.
cat >"$work/fixture.c" <<'EOF2'
__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread int fixture_tls;
int fixture_get(void) { return fixture_tls; }
EOF2
gcc -O2 -fPIC -shared -fuse-ld=gold -o "$work/fixture.so" "$work/fixture.c"
if ! dynamic_entries "$work/fixture.so" | grep -q '^fixture_tls TLS '; then
  echo "FAIL: the .dynsym reader misses a TLS entry of a gold-linked fixture:"; readelf --dyn-syms -W "$work/fixture.so"; exit 1
fi

(cd "$work" && ar x "$libc_a" malloc.o reallocarray.o)
nm -g --defined-only "$work/malloc.o" | defined >"$work/G"
nm -g --defined-only "$work/malloc.o" "$work/reallocarray.o" | defined >"$work/G_all"
# libc.so.6: address and name of every public (non-GLIBC_PRIVATE) defined symbol.
nm -D --defined-only "$libc_so" | awk 'NF >= 3 && $2 ~ /^[TWi]$/ && $3 !~ /GLIBC_PRIVATE/ { n = $3; sub(/@.*/, "", n); print $1, n }' \
  | sort -u >"$work/libc_dyn"
awk 'NR == FNR { g[$1] = 1; next } ($2 in g) { print $1 }' "$work/G_all" "$work/libc_dyn" | sort -u >"$work/addrs"
awk 'NR == FNR { a[$1] = 1; next } ($1 in a) { print $2 }' "$work/addrs" "$work/libc_dyn" | sort -u >"$work/PUB"
nm -D --defined-only "$libstdcxx_so" | defined | grep -E '^(_Znw|_Zna|_Zdl|_Zda)' >"$work/CXX"
printf '%s\n' free_sized free_aligned_sized >"$work/C23"

printf '%s\n' brk_prof_dump >"$work/OURS"
sort -u "$work/PUB" "$work/CXX" "$work/C23" "$work/OURS" <(echo __posix_memalign) >"$work/need_so"
sort -u "$work/need_so" "$work/G" >"$work/need_a"

dynamic_entries "$so" >"$work/so_entries"
cut -d' ' -f1 "$work/so_entries" | sort -u >"$work/so_exports"
nm -g --defined-only "$archive" 2>/dev/null | defined >"$work/a_defs"

echo "derived from glibc/libstdc++: $(wc -l <"$work/G") malloc.o globals, $(wc -l <"$work/PUB") public libc.so.6 names," \
  "$(wc -l <"$work/CXX") operator new/delete forms"
echo ".so must export $(wc -l <"$work/need_so") names; it exports $(wc -l <"$work/so_exports")." \
  " .a must define $(wc -l <"$work/need_a"); it defines $(wc -l <"$work/a_defs") globals."

status=0
missing_so="$(comm -23 "$work/need_so" "$work/so_exports")"
extra_so="$(awk 'NR == FNR { need[$1] = 1; next } !($1 in need)' "$work/need_so" "$work/so_entries")"
missing_a="$(comm -23 "$work/need_a" "$work/a_defs")"
if [[ -n "$missing_so" ]]; then echo "FAIL: $so does not export:"; sed 's/^/  /' <<<"$missing_so"; status=1; fi
if [[ -n "$extra_so" ]]; then echo "FAIL: $so exports names outside the allocation surface (name, type, binding):"; sed 's/^/  /' <<<"$extra_so"; status=1; fi
if [[ -n "$missing_a" ]]; then echo "FAIL: $archive does not define:"; sed 's/^/  /' <<<"$missing_a"; status=1; fi
if [[ $status == 0 ]]; then echo "PASS: exports match"; fi
echo "--- .so exports:"; tr '\n' ' ' <"$work/so_exports"; echo
exit $status
