#!/bin/bash
# C++ operators outside Bazel's rules: compiles cxx_new_prog.cc with the system g++ and runs it
#   preload:       as a plain program under LD_PRELOAD=libbrkmalloc.so;
#   whole-archive: linked with -Wl,--whole-archive libbrkmalloc.a (dynamic libstdc++);
#   static:        the same, fully -static (libstdc++.a: only the members the program itself pulls in);
#   dlopen:        the checks built as a C++ shared library, dlopen'ed (RTLD_LOCAL) by a C program running
#                  under LD_PRELOAD=libbrkmalloc.so: libstdc++ arrives after brkmalloc was loaded.
# The program checks that operator new throws a std::bad_alloc the program catches, after calling the
# new-handler, and that nothrow new returns nullptr (see cxx_new_prog.cc).
# Usage: cxx_new_test.sh <preload|whole-archive|static|dlopen> <cxx_new_prog.cc> <libbrkmalloc.so> <libbrkmalloc.a>
#        (dlopen mode: dlopen_main.c is found beside cxx_new_prog.cc)
set -euo pipefail
mode="$1"
src="$2"
so="$3"
archive="$4"
export PATH="/usr/bin:/bin:$PATH"
[[ "$so" == /* ]] || so="$PWD/$so"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cxx_new.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cxxflags=(-O2 -std=c++17 -fno-builtin -fno-allocation-dce -Wall)
if [[ "$mode" == dlopen ]]; then
  g++ "${cxxflags[@]}" -fPIC -shared -DCXX_NEW_AS_LIBRARY "$src" -o "$work/checks.so"
  cc -O2 -Wall "$(dirname "$src")/dlopen_main.c" -o "$work/main"
  needed="$(readelf -d "$work/main" | awk '/\(NEEDED\)/ { print $NF }')"
  if grep -q libstdc <<<"$needed"; then echo "FAIL: the C driver itself loads libstdc++"; exit 1; fi
  echo "+ LD_PRELOAD=$so $work/main $work/checks.so"
  if env LD_PRELOAD="$so" "$work/main" "$work/checks.so"; then echo "PASS ($mode)"; else echo "FAIL ($mode)"; exit 1; fi
  exit 0
fi
g++ "${cxxflags[@]}" -c "$src" -o "$work/prog.o"
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
