#!/usr/bin/env bash
# The main job: installs what is needed, builds brkmalloc, runs the benchmark comparison against glibc,
# jemalloc, mimalloc and tcmalloc, prints the table and says where the report and plots are.
# Arguments go to bench/run.py (--quick, --full, --only ..., --alloc NAME=PATH.so).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bazel build //...
exec /usr/bin/python3 bench/run.py "$@"
