#!/usr/bin/env bash
# Runs every test brkmalloc has: the Bazel tests (unit, API semantics under the .so and the static
# archive, exports, static links, real programs), the prefixed-API tests again under ASan+UBSan and
# under TSan, the stress matrix (every program under brkmalloc .so and static, glibc, jemalloc, mimalloc,
# tcmalloc), the misuse suite and a benchmark smoke run. Results (JUnit XML) go to test-results/;
# the last line counts the test cases: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

out=test-results
rm -rf "$out"
mkdir -p "$out"
status=0

step() { printf '\n==== %s ====\n' "$*"; }

bazel_tests() {  # bazel_tests NAME [bazel flags...]
  local name=$1; shift
  step "bazel test $* //..."
  bazel test "$@" //...
  local rc=$?
  [ $rc -eq 0 ] || status=1
  local logs
  logs=$(bazel info "$@" bazel-testlogs 2>/dev/null)
  (cd "$logs" && find . -name test.xml) | while read -r f; do
    mkdir -p "$out/$name/$(dirname "$f")"
    cp "$logs/$f" "$out/$name/$f"
  done
}

step "bazel build //..."
if ! bazel build //...; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

bazel_tests default
bazel_tests asan --config=asan
bazel_tests tsan --config=tsan

# The runners use bazel-bin, which follows the last build's configuration: point it back at the default.
bazel build //... >/dev/null 2>&1 || status=1

step "stress matrix"
/usr/bin/python3 tests/stress/run.py --xml "$out/stress.xml" || status=1
step "misuse suite"
/usr/bin/python3 tests/misuse/run.py --xml "$out/misuse.xml" || status=1
if [ -f bench/run.py ] && grep -q -- '--smoke' bench/run.py; then
  step "benchmark smoke run"
  /usr/bin/python3 bench/run.py --smoke --xml "$out/bench-smoke.xml" || status=1
fi

step "summary"
/usr/bin/python3 scripts/count_results.py "$out" || status=1
exit $status
