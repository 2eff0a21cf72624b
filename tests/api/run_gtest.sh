#!/bin/bash
# Runs a GoogleTest binary for Bazel, optionally under LD_PRELOAD, writing its XML where Bazel looks.
# Usage: run_gtest.sh <binary> <preload .so | none> [gtest flags...]  (paths relative to the runfiles root)
set -euo pipefail
bin="$1"
preload="$2"
shift 2
xml=()
if [[ -n "${XML_OUTPUT_FILE:-}" ]]; then xml=("--gtest_output=xml:${XML_OUTPUT_FILE}"); fi
if [[ "$preload" == none ]]; then
  exec "./$bin" "${xml[@]}" "$@"
fi
[[ "$preload" == /* ]] || preload="$PWD/$preload"
[[ -f "$preload" ]] || { echo "run_gtest.sh: no such preload library: $preload" >&2; exit 1; }
LD_PRELOAD="$preload" exec "./$bin" "${xml[@]}" "$@"
