#!/usr/bin/env bash
# The main job: installs what is needed, builds brkmalloc, runs the benchmark comparison against glibc,
# jemalloc, mimalloc and tcmalloc, prints the table and says where the report and plots are.
# Arguments go to bench/run.py (--quick, --full, --only ..., --alloc NAME=PATH.so).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "compare: [1/3] setup (apt packages, idempotent)" >&2
scripts/setup.sh
echo "compare: [2/3] bazel build //..." >&2
bazel build //...
echo "compare: [3/3] benchmark: workloads, real programs, start-up, microbenchmarks, callgrind (progress below)" >&2
exec /usr/bin/python3 bench/run.py "$@"
