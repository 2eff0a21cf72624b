#!/usr/bin/env bash
# Runs every test brkmalloc has: the Bazel tests (unit, API semantics under the .so and the static
# archive, exports, static links, real programs), the prefixed-API tests again under ASan+UBSan and
# under TSan, the stress matrix (every program under brkmalloc .so and static, glibc, jemalloc, mimalloc,
# tcmalloc), the misuse suite, the glibc-style robustness tests (tests/robust), the heap profiler's tests
# (tests/profile: google-pprof on its profiles, the leak report, fork), a benchmark smoke run and
# the install test (scripts/install.sh into a temporary prefix, programs built with pkg-config and CMake).
# Results (JUnit XML) go to test-results/; the last line counts the test cases: "N passed, N failed".
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
  local events="$out/$name.build-events.json"
  bazel test "$@" --build_event_json_file="$events" //...
  local rc=$?
  [ $rc -eq 0 ] || status=1
  # Only this invocation's results (bazel-testlogs keeps stale XML of earlier runs).
  /usr/bin/python3 scripts/collect_test_xml.py "$events" "$out/$name" || status=1
  rm -f "$events"
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

# runner NAME CMD...: a runner that fails without writing its XML (a crash, a bad argument) still counts
# as one failed test case, so the final count never hides it.
runner() {
  local name=$1; shift
  step "$name"
  local xml="$out/$name.xml"
  if ! "$@" --xml "$xml"; then
    status=1
    if [ ! -s "$xml" ]; then
      printf '<testsuite name="%s"><testcase classname="%s" name="runner"><failure message="exited non-zero without results"/></testcase></testsuite>\n' \
        "$name" "$name" > "$xml"
    fi
  fi
}
runner stress /usr/bin/python3 tests/stress/run.py
runner misuse /usr/bin/python3 tests/misuse/run.py --results "$out/misuse-RESULTS.md"
runner robust /usr/bin/python3 tests/robust/run.py
runner profile /usr/bin/python3 tests/profile/run.py
runner bench-smoke /usr/bin/python3 bench/run.py --smoke --no-build
# Last: scripts/install.sh builds with -c opt (it leaves the bazel-* links as they are).
runner install /usr/bin/python3 tests/install/run.py

step "summary"
/usr/bin/python3 scripts/count_results.py "$out" || status=1
exit $status
