#!/bin/bash
# Static-link test outside Bazel's rules: compiles static_prog.c with the system `cc` and links it with
# libbrkmalloc.a the way README.md tells users to, with the C driver and no -lstdc++ (the archive's C++
# operators refer to libstdc++ weakly only), then runs it (the program checks malloc_info's identity,
# mallinfo2 counters, malloc_trim, fork and a thread).
#   whole-archive: dynamic executable, archive linked with -Wl,--whole-archive; malloc must be defined in the
#                  executable itself (not imported from libc.so.6), and it needs no C++ library.
#   static:        fully -static; the link must succeed (no "multiple definition of malloc" from glibc's
#                  malloc.o) and the result must have no program interpreter.
# Usage: static_link_test.sh <whole-archive|static> <static_prog.c> <libbrkmalloc.a>
set -euo pipefail
mode="$1"
src="$2"
archive="$3"
export PATH="/usr/bin:/bin:$PATH"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/static_link.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cc -O2 -Wall -Wno-deprecated-declarations -c "$src" -o "$work/prog.o"
case "$mode" in
  whole-archive) static_flag=() ;;
  static) static_flag=(-static) ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
link=(cc "${static_flag[@]}" "$work/prog.o" -Wl,--whole-archive "$archive" -Wl,--no-whole-archive -lpthread
      -o "$work/prog")
echo "+ ${link[*]}"
if ! "${link[@]}" 2>"$work/link.err"; then
  echo "FAIL: link failed:"; cat "$work/link.err"; exit 1
fi

status=0
if [[ "$mode" == whole-archive ]]; then
  # Symbol tables are captured first: `nm | grep -q` under pipefail fails when grep exits early (SIGPIPE).
  dynsyms="$(nm -D "$work/prog")"
  syms="$(nm "$work/prog")"
  if grep -qE ' U (malloc|free)(@|$)' <<<"$dynsyms"; then
    echo "FAIL: the executable imports malloc/free from a shared library"; status=1
  fi
  grep -qE ' T malloc$' <<<"$syms" || { echo "FAIL: malloc is not defined in the executable"; status=1; }
  needed="$(readelf -d "$work/prog" | awk '/\(NEEDED\)/ { print $NF }' | tr -d '[]')"
  echo "NEEDED: $(tr '\n' ' ' <<<"$needed")"
  if grep -qvE '^(libc|libpthread)\.so\.[0-9]+$' <<<"$needed"; then
    echo "FAIL: a C program linked with the archive needs more than libc"; status=1
  fi
else
  if grep -q INTERP <<<"$(readelf -l "$work/prog")"; then echo "FAIL: -static output has a program interpreter"; status=1; fi
fi

if ! "$work/prog" 2>"$work/stderr"; then status=1; fi
echo "--- stderr (malloc_stats):"; cat "$work/stderr"
[[ $status == 0 ]] && echo "PASS ($mode)" || echo "FAIL ($mode)"
exit $status
