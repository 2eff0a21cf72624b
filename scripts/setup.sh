#!/usr/bin/env bash
# Installs from Debian everything brkmalloc's build, tests and benchmarks need. Idempotent: a second run
# installs nothing. Runs as root (or through sudo when not root).
set -euo pipefail

packages=(
  bazel-bootstrap g++ git ca-certificates            # build
  libgtest-dev libgmock-dev libbenchmark-dev         # unit tests and microbenchmarks
  libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4   # baselines we compare against
  clang libclang-rt-14-dev                           # fuzzer and sanitizers
  python3 python3-matplotlib                         # runners, reports and plots
  valgrind time procps coreutils                     # instruction counts, peak RSS
  redis-server redis-tools rocksdb-tools sqlite3     # real programs of the comparison (bench/programs.py)
  xz-utils binutils                                  # ... xz; nm for the allocator proof
  cmake pkg-config                                   # install test: builds against the installed files
  google-perftools                                   # google-pprof reads the heap profiler's profiles (tests/profile)
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The redis-server package starts a system service on port 6379. The benchmark starts its own servers on
# private loopback ports and needs no service (which would only take memory and CPU from the measurements):
# stop and disable it when it runs. A no-op when it is already stopped or there is no service manager.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  echo "setup: stopping and disabling the redis-server service (the benchmark runs its own servers)"
  $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
elif [ -f /run/redis/redis-server.pid ] && command -v service >/dev/null 2>&1; then
  echo "setup: stopping the redis-server service (the benchmark runs its own servers)"
  $sudo service redis-server stop >/dev/null 2>&1 || true
fi
