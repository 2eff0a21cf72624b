#!/bin/bash
# Builds the libFuzzer target (libfuzzer_entry.cc + every allocator/*.cc except tests) with clang,
# outside Bazel, with AddressSanitizer and UBSan. Usage: tests/misuse/build_libfuzzer.sh [OUTPUT]
# (default /tmp/brkmalloc_libfuzzer). Extra compiler flags: FUZZ_CXXFLAGS="...". See tests/misuse/README.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-/tmp/brkmalloc_libfuzzer}"
CXX="${CXX:-clang++}"
srcs=()
for f in "$root"/allocator/*.cc; do
  case "$f" in *_test.cc) ;; *) srcs+=("$f") ;; esac
done
if [ "${#srcs[@]}" -eq 0 ]; then
  echo "build_libfuzzer.sh: no allocator sources in $root/allocator" >&2
  exit 1
fi
set -x
"$CXX" -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=all ${FUZZ_CXXFLAGS:-} -I"$root" "${srcs[@]}" "$root/tests/misuse/libfuzzer_entry.cc" \
  -lpthread -o "$out"
