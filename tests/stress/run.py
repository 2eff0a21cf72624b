#!/usr/bin/python3
"""Runs every stress program under eight allocator configurations and prints a table; then short runs of
the real programs of bench/programs.py (Redis, RocksDB, SQLite, CPython, g++, xz, git gc: "real-<name>") under
brk-preload, glibc, jemalloc, mimalloc and tcmalloc, each checked by its own success test, by the LD_DEBUG
proof that the intended allocator served it, and by its check value against glibc's.

Configurations: brkmalloc via LD_PRELOAD (bazel-bin/preload/libbrkmalloc.so), brkmalloc statically linked (the
<program>_static binary), brkmalloc preloaded with BRKMALLOC_CHECKS=full and with BRKMALLOC_CHECKS=hardened, glibc (no preload), jemalloc, mimalloc, tcmalloc (LD_PRELOAD of Debian's libraries).
Each child gets a timeout (killed with its whole process group, counted as a failure); peak RSS and CPU come
from os.wait4. A program that fails on a baseline allocator is a bug in the program.

Usage (from the repo root, after `bazel build //tests/stress/... //preload:libbrkmalloc.so //bench:spawn`):
  /usr/bin/python3 tests/stress/run.py [--long] [--only PATTERN[,PATTERN]] [--xml PATH] [--seed N] [--jobs N]
Exit status 0 iff every run passed.
"""
import argparse
import fnmatch
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from xml.sax.saxutils import quoteattr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import launch  # noqa: E402  (bench/launch.py)
import programs  # noqa: E402  (bench/programs.py: the real-program drivers, shared with the benchmark)
# bazel-bin follows the last build, which may be a sanitizer configuration of someone sharing the workspace:
# prefer the default configuration's tree.
BIN_CANDIDATES = ["bazel-out/k8-fastbuild/bin", "bazel-bin"]
LIB = "/usr/lib/x86_64-linux-gnu/"

# (name, default timeout s, --long timeout s). Default runs take 1-9 s each on 2 cores.
PROGRAMS = [
    ("churn", 60, 1800),
    ("xthread", 90, 1800),
    ("thread_churn", 90, 3600),
    ("fork", 120, 3600),
    ("realloc_chain", 60, 3600),
    ("align", 90, 3600),
    ("calloc_reuse", 60, 3600),
    ("containers", 60, 1800),
    ("memory_return", 90, 1800),
] + [("real-" + p.name, 120, 600) for p in programs.PROGRAMS]

REAL_SCALE, REAL_SCALE_LONG = 0.05, 1.0  # inputs of the real programs (bench/run.py's default is 0.5)
REAL_CONFIGS = ("brk-preload", "glibc", "jemalloc", "mimalloc", "tcmalloc")

# Arguments the brkmalloc and glibc configurations get: they document 16-byte alignment for every block
# (--strict) and that malloc_trim(0) returns freed memory (--promise-return: RSS bounds asserted).
BRK_ARGS = ["--strict", "--promise-return", "--expect-brkmalloc"]
GLIBC_ARGS = ["--strict", "--promise-return"]

# name -> (binary suffix, LD_PRELOAD or None, extra args, extra env, note for the table)
CONFIGS = [
    ("brk-preload", "", "@preload/libbrkmalloc.so", BRK_ARGS, {}, None),
    ("brk-static", "_static", None, BRK_ARGS, {}, None),
    ("brk-full", "", "@preload/libbrkmalloc.so", BRK_ARGS, {"BRKMALLOC_CHECKS": "full"},
     "brkmalloc with BRKMALLOC_CHECKS=full (every call on the checked slow paths)"),
    ("brk-hardened", "", "@preload/libbrkmalloc.so", BRK_ARGS, {"BRKMALLOC_CHECKS": "hardened"},
     "brkmalloc with BRKMALLOC_CHECKS=hardened (full checks plus canaries, guard pages, zero-on-free, quarantine)"),
    ("glibc", "", None, GLIBC_ARGS, {}, None),
    ("jemalloc", "", LIB + "libjemalloc.so.2", [],
     {"STRESS_NO_PVALLOC": "1", "STRESS_NO_ALIGNED_ZERO": "1"},
     "jemalloc 5.3.0 (Debian): pvalloc is not exported (glibc's would be freed by jemalloc: SIGSEGV), and "
     "memalign(a,0)/valloc(0) return bogus pointers and a size-0 sized aligned delete corrupts the heap "
     "(fixed upstream: jemalloc PRs #2606, #2991); align leaves those calls out (STRESS_NO_PVALLOC=1, "
     "STRESS_NO_ALIGNED_ZERO=1) and says so"),
    ("mimalloc", "", LIB + "libmimalloc.so.2", [], {"STRESS_TOLERATE_MIMALLOC_700": "1"},
     "mimalloc 2.0.9 (Debian): aligned requests with alignment 256/512/1024 and a power-of-two size between the "
     "alignment and 1024 come back misaligned (microsoft/mimalloc issue #700); align and containers count and "
     "tolerate exactly those (STRESS_TOLERATE_MIMALLOC_700=1)"),
    ("tcmalloc", "", LIB + "libtcmalloc_minimal.so.4", [], {}, None),
]


def find_bin(explicit):
    if explicit:
        return explicit
    for c in BIN_CANDIDATES:
        d = os.path.join(ROOT, c)
        if os.path.exists(os.path.join(d, "tests/stress/churn")):
            return d
    return os.path.join(ROOT, BIN_CANDIDATES[0])


class Result:
    def __init__(self, prog, config):
        self.prog, self.config = prog, config
        self.ok = False
        self.wall = 0.0
        self.maxrss_kb = 0
        self.message = ""
        self.figures = []
        self.notes = []
        self.cmd = ""
        self.stdout = ""
        self.stderr = ""


class RealPrograms:
    """Prepares each real program's inputs once (in a private directory) for every configuration."""

    def __init__(self, scale):
        self.scale, self.work, self.lock, self.ready = scale, tempfile.mkdtemp(prefix="stress-real."), \
            threading.Lock(), {}

    def get(self, name):
        p = programs.BY_NAME[name]
        with self.lock:
            if name not in self.ready:
                why = p.missing()
                if why is None:
                    try:
                        d = os.path.join(self.work, name)
                        os.makedirs(d)
                        p.prepare(d, self.scale)
                    except Exception as e:  # noqa: BLE001  (a failed run, with the reason)
                        why = "prepare failed: %s" % e
                self.ready[name] = why
        return p, self.ready[name]

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)


def run_real(bin_dir, prog, timeout, config, real):
    """One real program under one configuration: passes on its own success test and the allocator proof;
    main() compares its check value with glibc's afterwards."""
    name, _, preload, _, _, _ = config
    r = Result(prog, name)
    r.check = ""
    p, why = real.get(prog[len("real-"):])
    if preload and preload.startswith("@"):
        preload = os.path.join(bin_dir, preload[1:])
    preload = preload or programs.GLIBC_SO  # Debian's redis-server is linked with jemalloc: preload glibc too
    spawn = os.path.join(bin_dir, "bench/spawn")
    r.cmd = "LD_PRELOAD=%s %s (bench/programs.py, scale %g)" % (preload, prog, real.scale)
    if why:
        r.message = why
        return r
    if not os.path.exists(spawn) or not os.path.exists(preload):
        r.message = "missing %s (build //bench:spawn //preload:libbrkmalloc.so first)" % (
            spawn if not os.path.exists(spawn) else preload)
        return r
    t0 = time.monotonic()
    res = programs.measured(p, spawn, preload, timeout)
    r.wall, r.maxrss_kb, r.check = time.monotonic() - t0, res["peak_rss_kb"], res["checksum"]
    r.stdout = "check: %s\nproof: %s\nfigures: %s" % (res["checksum"], res["proof"].get("text", ""), res["figures"])
    r.stderr = res["stderr"]
    if res["exit"] == "exit 0":
        r.ok = True
    else:
        r.message = res["exit"]
    return r


def run_one(bin_dir, prog, timeout, config, seed, extra_args, real=None):
    if prog.startswith("real-"):
        return run_real(bin_dir, prog, timeout, config, real)
    name, suffix, preload, args, env_extra, _ = config
    r = Result(prog, name)
    exe = os.path.join(bin_dir, "tests/stress", prog + suffix)
    argv = [exe, "--seed", str(seed)] + list(args) + list(extra_args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRKMALLOC_")}
    env.pop("LD_PRELOAD", None)
    env.update(env_extra)
    if preload:
        if preload.startswith("@"):
            preload = os.path.join(bin_dir, preload[1:])
        if not os.path.exists(preload):
            r.message = "missing preload library %s" % preload
            return r
        env["LD_PRELOAD"] = preload
    r.cmd = " ".join(["%s=%s" % (k, v) for k, v in sorted(env_extra.items())] +
                     (["LD_PRELOAD=" + preload] if preload else []) + argv)
    if not os.path.exists(exe):
        r.message = "missing binary %s (build first)" % exe
        return r
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # child: own process group, so a timeout kills everything it forked
            try:
                os.setpgid(0, 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.execve(exe, argv, env)
            finally:
                os._exit(127)
        status, rusage, timed_out = None, None, False
        while True:
            wpid, st, ru = os.wait4(pid, os.WNOHANG)
            if wpid == pid:
                status, rusage = st, ru
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status, rusage = os.wait4(pid, 0)
                break
            time.sleep(0.02)
        r.wall = time.monotonic() - start
        r.maxrss_kb = rusage.ru_maxrss if rusage else 0
        out.seek(0)
        err.seek(0)
        r.stdout = out.read().decode(errors="replace")
        r.stderr = err.read().decode(errors="replace")
    for line in r.stdout.splitlines():
        if "figure:" in line:
            r.figures.append(line.split("figure:", 1)[1].strip())
        if "KNOWN BASELINE BUG" in line or "NOT tested" in line:
            r.notes.append(line.split(": ", 1)[1] if ": " in line else line)
    fail_lines = [l for l in r.stderr.splitlines() if l.startswith("FAIL") or "brkmalloc:" in l]
    if timed_out:
        r.message = "timeout after %.0f s (killed)" % timeout
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        r.message = "killed by signal %d (%s)" % (sig, signal.Signals(sig).name)
        if fail_lines:
            r.message += ": " + fail_lines[-1]
    elif os.WEXITSTATUS(status) != 0:
        r.message = fail_lines[-1] if fail_lines else "exit status %d" % os.WEXITSTATUS(status)
    else:
        r.ok = True
    return r


def compare_real(bin_dir, jobs, results, real):
    """A real program's check value must equal glibc's (run glibc once more if --only left it out)."""
    glibc = next(c for c in CONFIGS if c[0] == "glibc")
    for prog in sorted({r.prog for r in results if r.prog.startswith("real-")}):
        rs = [r for r in results if r.prog == prog]
        ref = next((r for r in rs if r.config == "glibc"), None)
        if ref is None:
            tmo = next(j[1] for j in jobs if j[0] == prog)
            ref = run_real(bin_dir, prog, tmo, glibc, real)
        for r in rs:
            if r.ok and ref.ok and r.check != ref.check:
                r.ok = False
                r.message = "check value %s differs from glibc's %s" % (r.check, ref.check)
            elif r.ok and not ref.ok and r.config != "glibc":
                r.ok = False
                r.message = "no glibc reference to compare with (%s)" % ref.message


def selected(patterns, prog, config):
    if not patterns:
        return True
    key = prog + "/" + config
    for p in patterns:
        if "/" in p:
            if fnmatch.fnmatch(key, p):
                return True
        elif fnmatch.fnmatch(prog, p) or fnmatch.fnmatch(config, p):
            return True
    return False


def write_xml(path, results, seed):
    fails = sum(1 for r in results if not r.ok)
    total_time = sum(r.wall for r in results)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<testsuites tests="%d" failures="%d" time="%.2f" name="stress">' % (len(results), fails, total_time),
             '  <testsuite name="stress" tests="%d" failures="%d" errors="0" time="%.2f">' % (
                 len(results), fails, total_time)]
    for r in results:
        attrs = 'name=%s classname="stress" time="%.2f"' % (quoteattr("%s/%s" % (r.prog, r.config)), r.wall)
        if r.ok:
            lines.append("    <testcase %s/>" % attrs)
        else:
            msg = "%s (seed %d)" % (r.message, seed)
            body = "command: %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (r.cmd, r.stdout[-4000:], r.stderr[-4000:])
            lines.append("    <testcase %s>" % attrs)
            lines.append("      <failure message=%s><![CDATA[%s]]></failure>" % (
                quoteattr(msg), body.replace("]]>", "]]]]><![CDATA[>")))
            lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--long", action="store_true", help="soak mode: minutes per program")
    ap.add_argument("--only", default="", help="comma-separated patterns: program, config, or program/config "
                    "(shell wildcards), e.g. churn,fork or 'align/jemalloc' or 'brk-*'")
    ap.add_argument("--xml", help="write JUnit-style XML here")
    ap.add_argument("--seed", type=int, help="seed for every program (default: from the clock, printed)")
    ap.add_argument("--jobs", type=int, default=1, help="programs run at once (default 1: timings stay clean)")
    ap.add_argument("--bin", help="Bazel output directory (default: %s)" % " or ".join(BIN_CANDIDATES))
    ap.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every timeout")
    ap.add_argument("--verbose", action="store_true", help="print each program's output")
    args = ap.parse_args()

    bin_dir = find_bin(args.bin)
    seed = args.seed if args.seed is not None else int(time.time()) % 1000000007
    patterns = [p for p in args.only.split(",") if p]
    extra = ["--long"] if args.long else []
    jobs = [(prog, (tmo_long if args.long else tmo) * args.timeout_scale, cfg)
            for prog, tmo, tmo_long in PROGRAMS for cfg in CONFIGS if selected(patterns, prog, cfg[0])
            and (not prog.startswith("real-") or cfg[0] in REAL_CONFIGS)]
    if not jobs:
        print("no program/config matches --only %s" % args.only)
        return 2
    print("stress: %d runs, seed %d, binaries from %s%s" % (len(jobs), seed, bin_dir, ", LONG" if args.long else ""))
    sys.stdout.flush()

    real = RealPrograms(REAL_SCALE_LONG if args.long else REAL_SCALE)
    results = [None] * len(jobs)
    lock = threading.Lock()
    next_job = [0]
    t0 = time.monotonic()

    def worker():
        while True:
            with lock:
                i = next_job[0]
                next_job[0] += 1
            if i >= len(jobs):
                return
            prog, tmo, cfg = jobs[i]
            r = run_one(bin_dir, prog, tmo, cfg, seed, extra, real)
            results[i] = r
            with lock:
                done = sum(1 for x in results if x is not None)
                print("[%2d/%d] %-14s %-12s %s %6.1fs %7.1f MiB%s" % (
                    done, len(jobs), prog, cfg[0], "PASS" if r.ok else "FAIL", r.wall, r.maxrss_kb / 1024.0,
                    "" if r.ok else "  " + r.message))
                if args.verbose or not r.ok:
                    if not r.ok:
                        print("        command: %s" % r.cmd)
                    text = (r.stdout + r.stderr).strip()
                    if text:
                        print("        " + "\n        ".join(text.splitlines()[-15:]))
                sys.stdout.flush()

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    compare_real(bin_dir, jobs, results, real)
    real.close()

    # Table: program x allocator.
    cfg_names = [c[0] for c in CONFIGS if any(r.config == c[0] for r in results)]
    progs = [p for p, _, _ in PROGRAMS if any(r.prog == p for r in results)]
    by = {(r.prog, r.config): r for r in results}
    width = 22
    print()
    print("%-14s" % "program" + "".join("%-*s" % (width, c) for c in cfg_names))
    for p in progs:
        cells = []
        for c in cfg_names:
            r = by.get((p, c))
            if r is None:
                cells.append("-")
            else:
                cells.append("%s %5.1fs %5.0fM" % ("pass" if r.ok else "FAIL", r.wall, r.maxrss_kb / 1024.0))
        print("%-14s" % p + "".join("%-*s" % (width, x) for x in cells))
    print("(cell: result, wall time, peak RSS from wait4)")
    figs = [r for r in results if r.figures]
    if figs:
        print("\nfigures (memory kept after free + malloc_trim(0), relative to the peak growth; bound asserted for "
              "brkmalloc and glibc only):")
        for r in figs:
            print("  %-14s %-12s %s" % (r.prog, r.config, "; ".join(r.figures)))
    noted = [c for c in CONFIGS if c[5] and c[0] in cfg_names]
    if noted:
        print("\nnotes (known baseline limitations, handled explicitly):")
        for c in noted:
            print("  %s: %s" % (c[0], c[5]))
            for r in results:
                if r.config == c[0]:
                    for n in r.notes:
                        print("    %s: %s" % (r.prog, n))
    fails = [r for r in results if not r.ok]
    print("\n%d passed, %d failed in %.0f s (seed %d)" % (len(results) - len(fails), len(fails),
                                                          time.monotonic() - t0, seed))
    for r in fails:
        print("  FAIL %s/%s: %s" % (r.prog, r.config, r.message))
    if args.xml:
        write_xml(args.xml, results, seed)
        print("wrote %s" % args.xml)
    return 0 if not fails else 1


if __name__ == "__main__":
    sys.exit(main())
