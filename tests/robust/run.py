#!/usr/bin/python3
"""Runs the robustness programs of tests/robust (modelled on glibc's malloc tests; see README.md) as child
processes, each with a timeout: a hang is killed with its whole process group and counted as a failure.

Configurations: `so` (plain program, LD_PRELOAD=libbrkmalloc.so), `static` (the <name>_static program,
//preload:override linked in) and, with --all-allocators, glibc (no preload), jemalloc, mimalloc and
tcmalloc (LD_PRELOAD of Debian's libraries). Only the brkmalloc configurations are judged (JUnit XML,
exit status); the baselines are recorded in the table, and --all-allocators writes it to
tests/robust/RESULTS.md. The set-user-ID cases link tests/robust/secure_env.cc themselves (against
libbrkmalloc.so by DT_NEEDED, libbrkmalloc.a with -static, or a baseline) because ld.so ignores
LD_PRELOAD paths in a set-user-ID program; they need root (chown root, chmod u+s, setpriv to nobody).

Run from the repo root after `bazel build //tests/robust/... //preload:libbrkmalloc.so //preload:libbrkmalloc.a`:
  /usr/bin/python3 tests/robust/run.py [--all-allocators] [--only REGEX] [--repeat N] [--xml PATH]
Exit status 0 iff every brkmalloc run passed.
"""

import argparse
import concurrent.futures
import datetime
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# bazel-bin follows the last build, which may be --config=asan/tsan (trees without these no_sanitizer
# targets): prefer the default configuration's tree.
BIN_CANDIDATES = ["bazel-out/k8-fastbuild/bin", "bazel-bin"]
LIB = "/usr/lib/x86_64-linux-gnu/"
BASELINES = {
    "jemalloc": LIB + "libjemalloc.so.2",
    "mimalloc": LIB + "libmimalloc.so.2",
    "tcmalloc": LIB + "libtcmalloc_minimal.so.4",
}
BRK_CONFIGS = ["so", "static"]
ALL_CONFIGS = BRK_CONFIGS + ["glibc", "jemalloc", "mimalloc", "tcmalloc"]

NOBODY = 65534
# What the set-user-ID program is started with: each would change its behaviour if obeyed.
SECURE_ENV = {"BRKMALLOC_STATS": "1", "BRKMALLOC_MMAP_THRESHOLD": "4096", "MALLOC_MMAP_THRESHOLD_": "4096"}


class Case:
    def __init__(self, name, program, args=(), timeout=20, brk_args=(), kind="plain", doc=""):
        self.name, self.program, self.args, self.timeout = name, program, list(args), timeout
        self.brk_args, self.kind, self.doc = list(brk_args), kind, doc


# Normal durations (2 cores): fork tests 2 s each by their --seconds, idle_rss 3.5 s, the rest < 1 s.
CASES = [
    Case("fork_sigalrm", "fork_sigalrm", ["--seconds", "2"], 20,
         doc="fork() in a SIGALRM handler, timer aimed inside the main thread's fork(); children allocate"),
    Case("fork_sigusr1_thread", "fork_sigusr1", ["--sender", "thread", "--seconds", "2"], 20,
         doc="fork() in a SIGUSR1 handler interrupting malloc/free/realloc (16 B - 1 MiB); sender thread"),
    Case("fork_sigusr1_process", "fork_sigusr1", ["--sender", "process", "--seconds", "2"], 20,
         doc="the same with three sender processes (single-threaded program); signals also hit fork()"),
    Case("fork_stdio", "fork_stdio", ["--seconds", "2"], 20,
         doc="fork() threads racing getline and fflush(NULL) threads and allocating threads (bug 19431)"),
    Case("calloc_rlimit", "calloc_rlimit", [], 40,
         doc="calloc of 1 B - 1 MiB after 96 MiB of dirty frees, RLIMIT_AS at VmSize: all zero or ENOMEM"),
    Case("errno_impossible", "errno_enomem", ["impossible"], 20,
         doc="errno == ENOMEM from every entry point for impossible sizes; realloc keeps the block; free keeps errno"),
    Case("errno_rlimit", "errno_enomem", ["rlimit"], 20,
         doc="the same for 256 MiB under RLIMIT_AS = VmSize + 16 MiB"),
    Case("stats_cancel", "stats_cancel", [], 15,
         doc="malloc_stats() in a thread with a pending cancellation prints all its lines to stderr"),
    Case("secure_setuid", "secure_env", [], 30, kind="secure",
         doc="set-user-ID root program run as nobody with BRKMALLOC_STATS=1, *_MMAP_THRESHOLD*=4096: "
             "no output on stderr, default threshold"),
    Case("secure_control", "secure_env", [], 30, kind="secure_control",
         doc="the same binary run without privileges: the settings take effect (shows the check can fail)"),
    Case("idle_rss", "idle_rss", [], 20, brk_args=["--assert"],
         doc="free 64 MiB of arena blocks, 3 s idle: at most 8 MiB still resident (brkmalloc rows)"),
    Case("idle_big", "idle_big", [], 30, brk_args=["--assert"],
         doc="free 1 GiB of big blocks (4-40 MiB, replaced at random), idle: RSS under 10 MiB within the purge "
             "delay + 1 s (brkmalloc rows); the RSS curve every 100 ms"),
    Case("idle_rss_tls256k", "idle_rss_tls", [], 20, brk_args=["--assert"],
         doc="the same with 256 KiB of static TLS (__thread) in the program"),
]


class Outcome:
    def __init__(self, returncode=None, stdout="", stderr="", timed_out=False, missing=None, seconds=0.0,
                 verdict=None):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.timed_out, self.missing, self.seconds = timed_out, missing, seconds
        self.verdict = verdict  # for secure cases: None = passed, else the reason

    def status(self):
        if self.missing:
            return "not run"
        if self.timed_out:
            return "HANG (killed at timeout)"
        if self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return "signal %d" % -self.returncode
        return "exit %d" % self.returncode

    def lines(self, prefix):
        return [l[len(prefix):].strip() for l in self.stdout.splitlines() if l.startswith(prefix)]

    def reason(self):
        """None if the run passed, else why not."""
        if self.missing:
            return self.missing
        if self.verdict is not None:
            return self.verdict or None
        if self.timed_out:
            fails = self.lines("FAIL:")
            return "hang: killed after %.0f s%s" % (self.seconds, ("; " + fails[0]) if fails else "")
        if self.returncode == 0:
            return None
        fails = self.lines("FAIL:")
        err = [l for l in self.stderr.splitlines() if l.strip()]
        detail = fails[0] if fails else (err[0] if err else "no message")
        more = " (+%d more FAIL lines)" % (len(fails) - 1) if len(fails) > 1 else ""
        return "%s: %s%s" % (self.status(), detail, more)


def clean_env():
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("BRKMALLOC_", "MALLOC_", "GLIBC_TUNABLES")) and k != "LD_PRELOAD"}


def run_child(argv, env, timeout, cwd=None):
    """Runs argv in its own session; on timeout kills its process group (forked children included)."""
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True, cwd=cwd)
    except OSError as e:
        return Outcome(missing="cannot start %s: %s" % (argv[0], e))
    try:
        out, err = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
    # Children forked by a killed or crashed program may outlive it in the same group.
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return Outcome(p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), timed_out,
                   seconds=time.monotonic() - t0)


class Runner:
    def __init__(self, bin_root, tmp):
        self.bin_root, self.tmp = bin_root, tmp
        self.secure_bins = {}
        self.secure_lock = threading.Lock()
        self.extra_dirs = []  # removed at the end, as tmp is

    def program(self, case, config):
        return os.path.join(self.bin_root, "tests/robust", case.program + ("_static" if config == "static" else ""))

    def run(self, case, config):
        if case.kind != "plain":
            return self.run_secure(case, config)
        exe = self.program(case, config)
        if not os.path.exists(exe):
            return Outcome(missing="%s not built" % os.path.relpath(exe, ROOT))
        env = clean_env()
        env["TMPDIR"] = self.tmp
        if config == "so":
            so = os.path.join(self.bin_root, "preload/libbrkmalloc.so")
            if not os.path.exists(so):
                return Outcome(missing="%s not built" % os.path.relpath(so, ROOT))
            env["LD_PRELOAD"] = so
        elif config in BASELINES:
            if not os.path.exists(BASELINES[config]):
                return Outcome(missing="%s not installed" % BASELINES[config])
            env["LD_PRELOAD"] = BASELINES[config]
        args = case.args + (case.brk_args if config in BRK_CONFIGS else [])
        return run_child([exe] + args, env, case.timeout)

    # --- set-user-ID cases -------------------------------------------------------------------------

    def secure_binary(self, config):
        """Links secure_env.cc for config into a directory nobody can read; returns (path, None) or (None, why)."""
        with self.secure_lock:
            if config in self.secure_bins:
                return self.secure_bins[config]
            self.secure_bins[config] = result = self._link_secure(config)
            return result

    def secure_dir(self):
        """A directory on a file system without nosuid (a set-user-ID bit there is ignored), or None."""
        for base in (self.tmp, "/tmp", "/var/tmp", "/dev/shm"):
            try:
                if os.statvfs(base).f_flag & os.ST_NOSUID:
                    continue
            except OSError:
                continue
            if base == self.tmp:
                return base
            d = tempfile.mkdtemp(prefix="brk-robust-secure.", dir=base)
            self.extra_dirs.append(d)
            return d
        return None

    def _link_secure(self, config):
        top = self.secure_dir()
        if top is None:
            return None, "no directory without nosuid for a set-user-ID program (tried $TMPDIR, /tmp, /var/tmp)"
        d = os.path.join(top, "secure-" + config)
        os.makedirs(d, exist_ok=True)
        os.chmod(top, 0o755)  # nobody must reach the program (mkdtemp made it 0700)
        os.chmod(d, 0o755)
        src = os.path.join(ROOT, "tests/robust/secure_env.cc")
        obj = os.path.join(d, "secure_env.o")
        exe = os.path.join(d, "secure_env")
        cxx = ["g++", "-O1", "-std=c++17", "-fno-builtin", "-I", ROOT]
        link = ["g++", "-o", exe, obj]
        if config == "so":
            so = os.path.join(self.bin_root, "preload/libbrkmalloc.so")
            if not os.path.exists(so):
                return None, "%s not built" % so
            shutil.copy(so, os.path.join(d, "libbrkmalloc.so"))
            os.chmod(os.path.join(d, "libbrkmalloc.so"), 0o755)
            # An absolute RPATH is honoured in secure mode ($ORIGIN and LD_LIBRARY_PATH are not).
            link += ["-Wl,--no-as-needed", "-L" + d, "-l:libbrkmalloc.so", "-Wl,-rpath," + d]
        elif config == "static":
            archive = os.path.join(self.bin_root, "preload/libbrkmalloc.a")
            if not os.path.exists(archive):
                return None, "%s not built" % archive
            link = ["g++", "-static", "-o", exe, obj, "-Wl,--whole-archive", archive, "-Wl,--no-whole-archive",
                    "-lpthread"]
        elif config in BASELINES:
            link += ["-Wl,--no-as-needed", BASELINES[config]]
        for cmd in (cxx + ["-c", src, "-o", obj], link):
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                return None, "%s failed: %s" % (" ".join(cmd[:2]), p.stderr.strip()[-300:])
        if os.geteuid() != 0:
            return None, "needs root (the program must be owned by root and set-user-ID)"
        os.chown(exe, 0, 0)
        os.chmod(exe, 0o4755)
        return exe, None

    def run_secure(self, case, config):
        exe, why = self.secure_binary(config)
        if exe is None:
            return Outcome(missing=why)
        env = clean_env()
        env.update(SECURE_ENV)
        if case.kind == "secure":
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                return Outcome(missing="setpriv (util-linux) not found")
            argv = [setpriv, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups", exe]
        else:
            argv = [exe]
        out = run_child(argv, env, case.timeout, cwd="/")
        out.verdict = self.judge_secure(case, config, out)
        return out

    @staticmethod
    def judge_secure(case, config, out):
        """'' if passed, else the reason (only the brkmalloc configurations are judged)."""
        if out.timed_out or out.returncode != 0:
            return "%s; stderr: %r" % (out.status(), out.stderr[-200:])
        kv = dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l and " " not in l.split("=")[0])
        problems = []
        secure = case.kind == "secure"
        if kv.get("secure") != ("1" if secure else "0"):
            problems.append("AT_SECURE is %s, expected %s (the set-user-ID set-up did not work)"
                            % (kv.get("secure"), "1" if secure else "0"))
        if config in BRK_CONFIGS and kv.get("allocator") != "brkmalloc":
            problems.append("brkmalloc is not the allocator (allocator=%s)" % kv.get("allocator"))
        if secure:
            if kv.get("threshold") != "default":
                problems.append("the mmap threshold setting was obeyed (threshold=%s)" % kv.get("threshold"))
            if out.stderr.strip():
                problems.append("stderr is not empty: %r" % out.stderr.strip()[:160])
        elif config in BRK_CONFIGS:
            if kv.get("threshold") != "4096":
                problems.append("BRKMALLOC_MMAP_THRESHOLD=4096 had no effect without privileges")
            if "brkmalloc statistics" not in out.stderr:
                problems.append("BRKMALLOC_STATS=1 printed no statistics without privileges")
        return "; ".join(problems)

    @staticmethod
    def describe(case, out):
        """A short cell text: status, then the first failure or the last info line."""
        if out.missing:
            return "not run: " + out.missing
        if case.kind != "plain":
            kv = dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)
            err = out.stderr.strip().splitlines()
            return "%s; AT_SECURE=%s, allocator=%s, threshold=%s, stderr: %s%s" % (
                out.status(), kv.get("secure", "?"), kv.get("allocator", "?"), kv.get("threshold", "?"),
                ("%d lines, first %r" % (len(err), err[0][:60])) if err else "empty",
                (" -- " + out.verdict) if out.verdict else "")
        fails = out.lines("FAIL:")
        infos = out.lines("info:")
        text = out.status()
        if fails:
            text += ": " + fails[0] + (" (+%d more)" % (len(fails) - 1) if len(fails) > 1 else "")
        elif out.returncode not in (0, None) or out.timed_out:
            err = [l for l in out.stderr.splitlines() if l.strip()]
            if err:
                text += ": " + err[0][:160]
        if infos:
            text += " [" + infos[-1] + "]"
        return text


def short_reason(out):
    """A few words for a table cell: hang, a signal, or the first FAIL line / secure verdict, shortened."""
    if out.missing:
        return "not run"
    if out.timed_out:
        return "hang"
    text = out.verdict if out.verdict else (out.lines("FAIL:") or [out.status()])[0]
    text = text.split(";")[0].split(" (")[0]
    if out.returncode is not None and out.returncode < 0:
        text = out.status() + (" after: " + text if out.lines("FAIL:") else "")
    return text if len(text) <= 70 else text[:67] + "..."


def md_escape(s):
    return s.replace("|", "\\|").replace("\n", " ")


def write_results(path, cases, results, configs, seconds):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "?"
    rows = ["| case | " + " | ".join(configs) + " |", "|" + "---|" * (len(configs) + 1)]
    for c in cases:
        cells = []
        for cfg in configs:
            out = results[(c.name, cfg, 0)]
            if out.reason() is None:
                cells.append("PASS" if cfg in BRK_CONFIGS else "pass")
            else:
                cells.append(("**FAIL**" if cfg in BRK_CONFIGS else "fail") + ": " + md_escape(short_reason(out)))
        rows.append("| %s | %s |" % (c.name, " | ".join(cells)))
    details = []
    for c in cases:
        details.append("### %s\n\n%s.\n" % (c.name, c.doc))
        for cfg in configs:
            details.append("- **%s**: %s" % (cfg, md_escape(Runner.describe(c, results[(c.name, cfg, 0)]))))
        details.append("")
    text = [
        "# Robustness tests (glibc-style): brkmalloc and the baselines",
        "",
        "Written by `tests/robust/run.py --all-allocators` (commit %s, %s, %.0f s). `so` = LD_PRELOAD of"
        % (commit, datetime.date.today().isoformat(), seconds),
        "bazel-bin/preload/libbrkmalloc.so, `static` = brkmalloc linked in: PASS/FAIL is the runner's assertion",
        "(CI counts these two columns only). The baselines (glibc = no preload; Debian's jemalloc 5.3, mimalloc",
        "2.0.9, tcmalloc_minimal 2.10) run the same programs and are recorded: pass/fail by the same checks",
        "(secure cases: AT_SECURE, stderr, threshold; no allocator-identity check), `hang` = killed at the",
        "timeout. A cell gives the first failure, shortened; the details below give the program's own words.",
        "See README.md for each program and for the cases where glibc itself, not the allocator, sets the limit.",
        "",
        "\n".join(rows),
        "",
        "## Details (status, first FAIL line or the program's last info line)",
        "",
        "\n".join(details),
    ]
    with open(path, "w") as f:
        f.write("\n".join(text))


def write_xml(path, cases, results, configs, repeat):
    suite = ET.Element("testsuite", name="robust")
    tests = failures = 0
    for c in cases:
        for cfg in configs:
            if cfg not in BRK_CONFIGS:
                continue
            for i in range(repeat):
                out = results[(c.name, cfg, i)]
                tests += 1
                name = "%s/%s" % (c.name, cfg) + ("#%d" % i if repeat > 1 else "")
                tc = ET.SubElement(suite, "testcase", name=name, classname="robust", time="%.2f" % out.seconds)
                r = out.reason()
                if r is not None:
                    failures += 1
                    f = ET.SubElement(tc, "failure", message=r[:500])
                    f.text = "--- stdout ---\n%s\n--- stderr ---\n%s" % (out.stdout[-3000:], out.stderr[-3000:])
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    root = ET.Element("testsuites", tests=str(tests), failures=str(failures), errors="0")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xml", help="write JUnit XML of the brkmalloc runs here")
    ap.add_argument("--all-allocators", action="store_true",
                    help="also run glibc, jemalloc, mimalloc, tcmalloc and write the table to --results")
    ap.add_argument("--results", default="tests/robust/RESULTS.md",
                    help="where --all-allocators writes the table ('' = nowhere)")
    ap.add_argument("--configs", help="comma-separated subset of " + ",".join(ALL_CONFIGS))
    ap.add_argument("--only", default="", help="regex: run only the cases whose name matches")
    ap.add_argument("--repeat", type=int, default=1, help="run each case N times (e.g. 50 for the fork tests)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--bin", help="Bazel output tree (default: %s)" % " or ".join(BIN_CANDIDATES))
    args = ap.parse_args()

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # inherited: no core files from crashing children
    candidates = [args.bin] if args.bin else BIN_CANDIDATES
    bin_root = next((os.path.join(ROOT, c) for c in candidates if os.path.isdir(os.path.join(ROOT, c, "tests/robust"))),
                    os.path.join(ROOT, candidates[0]))
    configs = args.configs.split(",") if args.configs else (ALL_CONFIGS if args.all_allocators else BRK_CONFIGS)
    for c in configs:
        if c not in ALL_CONFIGS:
            ap.error("unknown config %s" % c)
    cases = [c for c in CASES if re.search(args.only, c.name)]
    if not cases:
        ap.error("no case matches --only %s" % args.only)
    print("robust: %d cases x %s x %d, programs from %s" % (len(cases), ",".join(configs), args.repeat,
                                                          os.path.relpath(bin_root, ROOT)), flush=True)

    tmp = tempfile.mkdtemp(prefix="brk-robust.")
    runner = Runner(bin_root, tmp)
    results = {}
    t0 = time.monotonic()
    lock = threading.Lock()
    # Repetitions outermost, so a --repeat run interleaves configurations instead of queueing 50 of one.
    jobs = [(c, cfg, i) for i in range(args.repeat) for c in cases for cfg in configs]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(runner.run, c, cfg): (c, cfg, i) for c, cfg, i in jobs}
            for f in concurrent.futures.as_completed(futures):
                c, cfg, i = futures[f]
                out = f.result()
                results[(c.name, cfg, i)] = out
                r = out.reason()
                judged = cfg in BRK_CONFIGS
                tag = ("PASS" if r is None else "FAIL") if judged else ("ok  " if r is None else "rec ")
                with lock:
                    print("%s %s/%s%s %.1fs %s" % (tag, c.name, cfg, "#%d" % i if args.repeat > 1 else "",
                                                   out.seconds, "" if r is None else r), flush=True)
    finally:
        for d in [tmp] + runner.extra_dirs:
            shutil.rmtree(d, ignore_errors=True)
    seconds = time.monotonic() - t0

    passed = failed = 0
    print()
    for c in cases:
        for cfg in configs:
            outs = [results[(c.name, cfg, i)] for i in range(args.repeat)]
            bad = [o for o in outs if o.reason() is not None]
            if cfg in BRK_CONFIGS:
                passed += len(outs) - len(bad)
                failed += len(bad)
            hangs = sum(1 for o in bad if o.timed_out)
            print("%-22s %-9s %d/%d passed%s" % (c.name, cfg, len(outs) - len(bad), len(outs),
                                                 (" (%d hangs)" % hangs) if hangs else ""))
    if args.all_allocators and args.results:
        write_results(os.path.join(ROOT, args.results) if not os.path.isabs(args.results) else args.results,
                      cases, results, configs, seconds)
        print("table written to %s" % args.results)
    if args.xml:
        write_xml(args.xml, cases, results, configs, args.repeat)
        print("XML written to %s" % args.xml)
    print("robust: %d passed, %d failed in %.0f s" % (passed, failed, seconds))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
