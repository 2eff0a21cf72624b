#!/usr/bin/python3
"""Runs the misuse, environment and out-of-memory programs of tests/misuse as child processes.

For brkmalloc (the preloaded bazel-bin/preload/libbrkmalloc.so and the statically linked <name>_static
programs) it asserts the documented answer: SIGABRT with exactly one stderr line naming the pointer the
program passed, one warning line for a bad setting, a clean ENOMEM under RLIMIT_AS. Under glibc, jemalloc,
mimalloc and tcmalloc it only records what happens. Prints a table, writes it to tests/misuse/RESULTS.md,
optionally writes JUnit XML (--xml), and exits 0 iff every brkmalloc assertion passed.

Run from the repo root after: bazel build //tests/misuse/... //preload:libbrkmalloc.so
"""

import argparse
import concurrent.futures
import datetime
import os
import re
import resource
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

# The default configuration's output tree. bazel-bin follows the last build, which may be a sanitizer
# configuration (--config=asan/tsan have their own trees, without the no_sanitizer targets), so look in
# bazel-out/k8-fastbuild/bin first. --bin overrides.
BIN_CANDIDATES = ["bazel-out/k8-fastbuild/bin", "bazel-bin"]
BIN_ROOT = None  # chosen in main()
LIB = "/usr/lib/x86_64-linux-gnu"
BASELINES = {
    "jemalloc": LIB + "/libjemalloc.so.2",
    "mimalloc": LIB + "/libmimalloc.so.2",
    "tcmalloc": LIB + "/libtcmalloc_minimal.so.4",
}
BRK_CONFIGS = ["so", "static"]
ALL_CONFIGS = BRK_CONFIGS + ["glibc", "jemalloc", "mimalloc", "tcmalloc"]

MISUSE_TIMEOUT = 20
OOM_TIMEOUT = 90

# name -> (program, expected stderr line; {addr} and {size} come from the program's stdout)
MISUSE = [
    ("double_free_small", "double_free_small", "brkmalloc: double free of {addr}"),
    ("double_free_small_later", "double_free_small_later", "brkmalloc: double free of {addr}"),
    ("double_free_large", "double_free_large", "brkmalloc: double free of {addr}"),
    ("free_stack", "free_stack", "brkmalloc: free of invalid pointer {addr}"),
    ("free_global", "free_global", "brkmalloc: free of invalid pointer {addr}"),
    ("free_interior_small", "free_interior_small", "brkmalloc: free of invalid pointer {addr}"),
    ("free_interior_large", "free_interior_large", "brkmalloc: free of invalid pointer {addr}"),
    ("free_misaligned", "free_misaligned", "brkmalloc: free of invalid pointer {addr}"),
    ("free_foreign_mmap", "free_foreign_mmap", "brkmalloc: free of invalid pointer {addr}"),
    ("realloc_invalid", "realloc_invalid", "brkmalloc: realloc of invalid pointer {addr}"),
    ("usable_size_invalid", "usable_size_invalid", "brkmalloc: malloc_usable_size of invalid pointer {addr}"),
    ("sized_delete_wrong", "sized_delete_wrong", "brkmalloc: sized free of {addr} with wrong size {size}"),
    ("free_sized_wrong", "free_sized_wrong", "brkmalloc: sized free of {addr} with wrong size {size}"),
    ("uaf_freelist", "uaf_freelist", "brkmalloc: free list corrupted at {addr}"),
    # What only BRKMALLOC_CHECKS=hardened stops (None: a fault, SIGSEGV, with nothing on stderr).
    ("overflow_small_1", "overflow_small_1", "brkmalloc: write past the end of {addr}"),
    ("overflow_small_8", "overflow_small_8", "brkmalloc: write past the end of {addr}"),
    ("overflow_big_1", "overflow_big_1", "brkmalloc: write past the end of {addr}"),
    ("overflow_big_8", "overflow_big_8", "brkmalloc: write past the end of {addr}"),
    ("uaf_write_small", "uaf_write_small", "brkmalloc: write after free into {addr}"),
    ("uaf_write_reused", "uaf_write_reused", "brkmalloc: write after free into {addr}"),
    ("malloc0_read", "malloc0_read", None),
    ("malloc0_write", "malloc0_write", None),
    ("delete_big_wrong_align", "delete_big_wrong_align", "brkmalloc: aligned free of {addr} with wrong alignment {align}"),
]

# The default threshold, as the warning may spell it.
DEFAULT_KEPT = r"(131072|128K|128k|128KiB|128 KiB)( bytes)?"
ENV_CASES = [
    ("env_threshold_abc", {"BRKMALLOC_MMAP_THRESHOLD": "abc"},
     r"brkmalloc: ignoring BRKMALLOC_MMAP_THRESHOLD=abc \(.+\); keeping " + DEFAULT_KEPT),
    ("env_threshold_negative", {"BRKMALLOC_MMAP_THRESHOLD": "-5"},
     r"brkmalloc: ignoring BRKMALLOC_MMAP_THRESHOLD=-5 \(.+\); keeping " + DEFAULT_KEPT),
    ("env_threshold_huge", {"BRKMALLOC_MMAP_THRESHOLD": "99999999999999999999"},
     r"brkmalloc: ignoring BRKMALLOC_MMAP_THRESHOLD=99999999999999999999 \(.+\); keeping " + DEFAULT_KEPT),
    ("env_unknown", {"BRKMALLOC_FOO": "1"}, r"brkmalloc: ignoring unknown setting BRKMALLOC_FOO"),
    ("env_checks_bad", {"BRKMALLOC_CHECKS": "paranoid"},
     r"brkmalloc: ignoring BRKMALLOC_CHECKS=paranoid \(.+\); keeping default"),
    ("env_purge_thread_bad", {"BRKMALLOC_PURGE_THREAD": "yes"},
     r"brkmalloc: ignoring BRKMALLOC_PURGE_THREAD=yes \(.+\); keeping 1"),
]

OOM_ENTRIES = ["malloc_small", "malloc_large", "calloc", "reallocarray_new", "posix_memalign", "aligned_alloc",
               "memalign", "valloc", "strdup", "operator_new", "nothrow_new", "realloc_grow", "reallocarray_grow"]


class Case:
    def __init__(self, name, program, args, env, kind, expected):
        self.name, self.program, self.args, self.env = name, program, args, env
        self.kind, self.expected = kind, expected


# Caught only with BRKMALLOC_CHECKS=full (encoded, range-checked free-list links); in the default mode a
# write into a freed block is undefined behaviour we do not detect (README "Errors and misuse").
FULL_CHECKS_ONLY = {"uaf_freelist"}
FULL = {"BRKMALLOC_CHECKS": "full"}
# Caught only with BRKMALLOC_CHECKS=hardened (canaries, guard pages, zero-on-free and quarantine, the
# PROT_NONE zero-size region, recorded alignment): in the other modes their outcome is recorded, not judged.
HARDENED_ONLY = {"overflow_small_1", "overflow_small_8", "overflow_big_1", "overflow_big_8", "uaf_write_small",
                 "uaf_write_reused", "malloc0_read", "malloc0_write", "delete_big_wrong_align"}
HARDENED = {"BRKMALLOC_CHECKS": "hardened"}
# Where the hardened mode reports a misuse otherwise: the write into a freed block's link is found in
# quarantine (zero-on-free), before any free list is used.
HARDENED_EXPECTED = {"uaf_freelist": "brkmalloc: write after free into {addr}"}
# A correct program (tests/misuse/benign_hardened.cc) must run unchanged in every mode.
BENIGN = ["benign_hardened"]


def all_cases():
    # Every misuse in the default mode (except those only full checks catch), then every one again with
    # BRKMALLOC_CHECKS=full, whose frees all go through the checked slow path.
    cases = [Case(n, p, [], {}, "record" if p in HARDENED_ONLY else "misuse", e)
             for n, p, e in MISUSE if p not in FULL_CHECKS_ONLY]
    cases += [Case(n + "@full", p, [], FULL, "record" if p in HARDENED_ONLY else "misuse", e) for n, p, e in MISUSE]
    # Every misuse again in the hardened mode: all must be stopped, those of the other modes included.
    cases += [Case(n + "@hardened", p, [], HARDENED, "misuse", HARDENED_EXPECTED.get(p, e)) for n, p, e in MISUSE]
    cases += [Case(p + mode, p, [], env, "benign", None)
              for p in BENIGN for mode, env in (("", {}), ("@full", FULL), ("@hardened", HARDENED))]
    cases += [Case(n, "env_settings", [], env, "env", e) for n, env, e in ENV_CASES]
    cases += [Case("oom_" + e, "oom", [e], {}, "oom", None) for e in OOM_ENTRIES]
    return cases


class Outcome:
    def __init__(self, returncode=None, stdout="", stderr="", timed_out=False, missing=None):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.timed_out, self.missing = timed_out, missing

    def stderr_lines(self):
        return [l for l in self.stderr.splitlines() if l.strip()]

    def status(self):
        if self.missing:
            return "not run (%s)" % self.missing
        if self.timed_out:
            return "timeout"
        if self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return "signal %d" % -self.returncode
        return "exit %d" % self.returncode

    def summary(self):
        if "free_sized=not provided" in self.stdout.splitlines():
            return "%s: free_sized not provided" % self.status()
        lines = self.stderr_lines()
        first = lines[0] if lines else "silent"
        if len(first) > 100:
            first = first[:97] + "..."
        return "%s: %s" % (self.status(), first)


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(case, config, root):
    program = os.path.join(BIN_ROOT, "tests/misuse", case.program + ("_static" if config == "static" else ""))
    if not os.path.exists(program):
        return Outcome(missing="%s not built" % os.path.relpath(program, root))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRKMALLOC_") and k != "LD_PRELOAD"}
    env.update(case.env)
    if config == "so":
        so = os.path.join(BIN_ROOT, "preload/libbrkmalloc.so")
        if not os.path.exists(so):
            return Outcome(missing="%s not built" % os.path.relpath(so, root))
        env["LD_PRELOAD"] = so
    elif config in BASELINES:
        if not os.path.exists(BASELINES[config]):
            return Outcome(missing="%s not installed" % BASELINES[config])
        env["LD_PRELOAD"] = BASELINES[config]
    timeout = OOM_TIMEOUT if case.kind == "oom" else MISUSE_TIMEOUT
    try:
        p = subprocess.run([program] + case.args, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, preexec_fn=no_core)
    except subprocess.TimeoutExpired as e:
        return Outcome(stdout=(e.stdout or b"").decode(errors="replace"),
                       stderr=(e.stderr or b"").decode(errors="replace"), timed_out=True)
    return Outcome(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def reported(stdout, key):
    """The last value the program reported as key=value on stdout."""
    values = [l.split("=", 1)[1] for l in stdout.splitlines() if l.startswith(key + "=")]
    return values[-1] if values else None


def check(case, out):
    """Checks brkmalloc's outcome; returns None if it passed, else the reason."""
    if out.missing:
        return out.missing
    if out.timed_out:
        return "timed out; stderr: %r" % out.stderr[-300:]
    lines = out.stderr_lines()
    if case.kind == "record":  # the mode does not promise to stop it: recorded only
        return None
    if case.kind == "benign":
        problems = []
        if out.returncode != 0:
            problems.append("expected exit 0, got %s" % out.status())
        if lines:
            problems.append("expected nothing on stderr, got %r" % lines[:3])
        if reported(out.stdout, "benign") != "ok":
            problems.append("the program's own checks failed: %s" % reported(out.stdout, "failed"))
        return "; ".join(problems) or None
    if case.kind == "misuse":
        if case.program == "free_sized_wrong" and reported(out.stdout, "free_sized") == "not provided":
            return "free_sized is not provided (dlsym and the weak reference both found nothing)"
        addr, size = reported(out.stdout, "addr"), reported(out.stdout, "size")
        if addr is None:
            return "the program stopped before reporting its pointer: %s; stderr: %r" % (out.status(), out.stderr[-300:])
        problems = []
        if case.expected is None:  # an access to a PROT_NONE page: the fault itself, nothing printed
            if out.returncode != -signal.SIGSEGV:
                problems.append("expected SIGSEGV, got %s" % out.status())
            if lines:
                problems.append("expected nothing on stderr, got %r" % lines[:3])
        else:
            want = case.expected.format(addr=addr, size=size, align=reported(out.stdout, "align"))
            if out.returncode != -signal.SIGABRT:
                problems.append("expected SIGABRT, got %s" % out.status())
            if lines != [want]:
                problems.append("expected stderr exactly %r, got %r" % (want, lines[:3]))
        if reported(out.stdout, "survived"):
            problems.append("the misuse call returned to the program")
        return "; ".join(problems) or None
    if case.kind == "env":
        problems = []
        if out.returncode != 0:
            problems.append("expected exit 0, got %s" % out.status())
        if len(lines) != 1 or not re.fullmatch(case.expected, lines[0]):
            problems.append("expected exactly one stderr line matching %r, got %r" % (case.expected, lines[:3]))
        allocator = reported(out.stdout, "allocator")
        if allocator != "brkmalloc":
            problems.append("malloc_info did not identify brkmalloc (allocator=%s)" % allocator)
        elif reported(out.stdout, "threshold") != "default 131072 in force":
            problems.append("the default mmap threshold is not in force: %s" % reported(out.stdout, "threshold"))
        return "; ".join(problems) or None
    # oom
    if out.returncode != 0:
        return "expected exit 0, got %s; stderr: %r" % (out.status(), out.stderr.strip()[-400:])
    return None


def markdown_table(cases, results, configs):
    head = "| case | " + " | ".join(configs) + " |"
    rows = [head, "|" + "---|" * (len(configs) + 1)]
    for c in cases:
        cells = []
        for cfg in configs:
            out = results[(c.name, cfg)]
            text = out.summary().replace("|", "\\|")
            if cfg in BRK_CONFIGS and c.kind != "record":
                text = ("PASS " if check(c, out) is None else "FAIL ") + text
            cells.append("`" + text + "`" if not text.startswith(("PASS", "FAIL")) else text)
        rows.append("| %s | %s |" % (c.name, " | ".join(cells)))
    return "\n".join(rows)


def write_results(path, cases, results, configs, root):
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    text = [
        "# Misuse, bad-setting and out-of-memory behaviour: brkmalloc and the baselines",
        "",
        "Written by `tests/misuse/run.py` (commit %s, %s). Each cell: how the child process ended (a signal or"
        % (commit, datetime.date.today().isoformat()),
        "its exit code) and the first line it wrote to stderr (`silent` if none). For brkmalloc (`so` =",
        "LD_PRELOAD of bazel-bin/preload/libbrkmalloc.so, `static` = linked with //preload:override) PASS/FAIL",
        "is the runner's assertion; the other columns are recorded, not judged. glibc = no preload; the",
        "baselines are Debian's jemalloc 5.3, mimalloc 2.0.9 and gperftools' tcmalloc_minimal 2.10.",
        "",
        "Misuse cases expect SIGABRT and exactly one stderr line naming the pointer the program passed (malloc0_*:",
        "SIGSEGV and nothing on stderr); `@full` and `@hardened` rows run with BRKMALLOC_CHECKS=full / hardened;",
        "rows without PASS/FAIL for brkmalloc are misuses that mode does not promise to stop (recorded only);",
        "benign_hardened rows expect exit 0 and nothing on stderr in every mode; env cases",
        "expect exit 0 and one warning line; oom cases run tests/misuse/oom.cc for one entry point under",
        "RLIMIT_AS (VmSize + 64 MiB, heap pre-filled with 120 KiB blocks) and expect exit 0: clean ENOMEM,",
        "heap usable afterwards; the count is the blocks that entry point got before ENOMEM.",
        "See tests/misuse/README.md.",
        "",
        markdown_table(cases, results, configs),
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(text))


def write_xml(path, cases, results, configs):
    suite = ET.Element("testsuite", name="misuse")
    tests = failures = 0
    for c in cases:
        for cfg in configs:
            if cfg not in BRK_CONFIGS or c.kind == "record":
                continue
            tests += 1
            tc = ET.SubElement(suite, "testcase", name="%s/%s" % (c.name, cfg), classname="misuse")
            reason = check(c, results[(c.name, cfg)])
            if reason is not None:
                failures += 1
                ET.SubElement(tc, "failure", message=reason)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    root = ET.Element("testsuites", tests=str(tests), failures=str(failures), errors="0")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xml", help="write JUnit-style XML of the brkmalloc assertions here")
    ap.add_argument("--results", default="tests/misuse/RESULTS.md", help="where to write the table ('' = nowhere)")
    ap.add_argument("--configs", default=",".join(ALL_CONFIGS), help="comma-separated subset of " + ",".join(ALL_CONFIGS))
    ap.add_argument("--only", default="", help="regex: run only the cases whose name matches")
    ap.add_argument("--no-oom", action="store_true", help="skip the out-of-memory cases")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--bin", help="Bazel output tree holding tests/misuse and preload (default: %s)"
                    % " or ".join(BIN_CANDIDATES))
    args = ap.parse_args()

    global BIN_ROOT
    root = os.getcwd()
    candidates = [args.bin] if args.bin else BIN_CANDIDATES
    BIN_ROOT = next((os.path.abspath(c) for c in candidates if os.path.isdir(os.path.join(c, "tests/misuse"))),
                    os.path.abspath(candidates[0]))
    print("programs from %s" % os.path.relpath(BIN_ROOT, root))
    configs = [c for c in args.configs.split(",") if c]
    for c in configs:
        if c not in ALL_CONFIGS:
            ap.error("unknown config %s" % c)
    cases = [c for c in all_cases() if re.search(args.only, c.name) and not (args.no_oom and c.kind == "oom")]

    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run, c, cfg, root): (c.name, cfg) for c in cases for cfg in configs}
        for f in concurrent.futures.as_completed(futures):
            results[futures[f]] = f.result()

    passed = failed = 0
    for c in cases:
        for cfg in configs:
            if cfg not in BRK_CONFIGS or c.kind == "record":
                continue
            reason = check(c, results[(c.name, cfg)])
            if reason is None:
                passed += 1
                print("PASS %s/%s" % (c.name, cfg))
            else:
                failed += 1
                print("FAIL %s/%s: %s" % (c.name, cfg, reason))
    print()
    print(markdown_table(cases, results, configs))
    print()
    if args.results:
        write_results(args.results, cases, results, configs, root)
        print("table written to %s" % args.results)
    if args.xml:
        write_xml(args.xml, cases, results, configs)
        print("XML written to %s" % args.xml)
    print("misuse: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
