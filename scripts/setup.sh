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
  cmake pkg-config                                   # install test: builds against the installed files
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
