#!/bin/bash
# C++ operators outside Bazel's rules: compiles cxx_new_prog.cc with the system g++ and runs it
#   preload:       as a plain program under LD_PRELOAD=libbrkmalloc.so;
#   whole-archive: linked with -Wl,--whole-archive libbrkmalloc.a (dynamic libstdc++);
#   static:        the same, fully -static (libstdc++.a: only the members the program itself pulls in).
# The program checks that operator new throws a std::bad_alloc the program catches, after calling the
# new-handler, and that nothrow new returns nullptr (see cxx_new_prog.cc).
# Usage: cxx_new_test.sh <preload|whole-archive|static> <cxx_new_prog.cc> <libbrkmalloc.so> <libbrkmalloc.a>
set -euo pipefail
mode="$1"
src="$2"
so="$3"
archive="$4"
export PATH="/usr/bin:/bin:$PATH"
[[ "$so" == /* ]] || so="$PWD/$so"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cxx_new.XXXXXX")"
trap 'rm -rf "$work"' EXIT

g++ -O2 -std=c++17 -fno-builtin -fno-allocation-dce -Wall -c "$src" -o "$work/prog.o"
case "$mode" in
  preload) link=(g++ "$work/prog.o" -o "$work/prog"); run=(env LD_PRELOAD="$so" "$work/prog") ;;
  whole-archive) link=(g++ "$work/prog.o" -Wl,--whole-archive "$archive" -Wl,--no-whole-archive -lpthread -o "$work/prog")
                 run=("$work/prog") ;;
  static) link=(g++ -static "$work/prog.o" -Wl,--whole-archive "$archive" -Wl,--no-whole-archive -o "$work/prog")
          run=("$work/prog") ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
echo "+ ${link[*]}"
"${link[@]}"
if [[ "$mode" == static ]]; then
  # Which of the two throw paths of cxx_operators.cc this link takes (informational).
  if nm "$work/prog" | grep -q ' T _ZSt17__throw_bad_allocv$'; then echo "throw path: std::__throw_bad_alloc"
  else echo "throw path: __cxa_allocate_exception + __cxa_throw"; fi
fi
echo "+ ${run[*]}"
if "${run[@]}"; then echo "PASS ($mode)"; else echo "FAIL ($mode)"; exit 1; fi
