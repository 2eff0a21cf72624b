#!/usr/bin/python3
"""Heap-profiler tests (allocator/prof.h; README "Heap profiles"). Builds the test programs with the system
compiler, as users would, without frame pointers: preloaded (plain program, LD_PRELOAD=libbrkmalloc.so) and
linked statically (libbrkmalloc.a with -Wl,--whole-archive, libc shared: `static`; and fully -static:
`fullstatic`; as tests/api/static_link_test.sh links), and checks:
  - sites: `google-pprof --text --inuse_space` of the mid-run profile puts at least 90 % of the estimated
    in-use bytes on the live sites, each within 20 % of what the program says it allocated there, and
    nothing on the site that freed its blocks; the exit profile has the pid in its name;
  - leaks: the leak report at exit names the planted leak and none of the freed sites;
  - fork: a multithreaded program that forks while profiling leaves valid profiles of both pids, the
    child's numbered from 1 and holding its own site;
  - off: without the settings, no file and no output beyond the program's own;
  - tests/robust's fork-from-a-signal-handler programs pass with profiling on.
Run from the repo root after `bazel build //preload:libbrkmalloc.so //preload:libbrkmalloc.a //tests/robust/...`:
  /usr/bin/python3 tests/profile/run.py [--xml PATH] [--keep]
Exit status 0 iff every check passed.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "profile")
BIN_CANDIDATES = ["bazel-out/k8-fastbuild/bin", "bazel-bin"]  # bazel-bin may be an asan/tsan tree
RATE = "16K"  # enough samples (hundreds per site) for 20 % at a few standard deviations
CFLAGS = ["-O2", "-g", "-fomit-frame-pointer", "-Wall"]


def find_bin(rel):
    for b in BIN_CANDIDATES:
        p = os.path.join(ROOT, b, rel)
        if os.path.exists(p):
            return p
    sys.exit("missing %s: bazel build //preload:libbrkmalloc.so //preload:libbrkmalloc.a" % rel)


class Results:
    def __init__(self):
        self.cases = []  # (name, seconds, failure text or None)

    def check(self, name, ok, detail=""):
        self.cases.append((name, 0.0, None if ok else (detail or "failed")))
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + detail))
        return ok


def build(work, lib_a):
    progs = {}
    for src in ["sites", "fork_prof"]:
        c = os.path.join(HERE, src + ".c")
        plain = os.path.join(work, src)
        subprocess.run(["cc"] + CFLAGS + [c, "-o", plain, "-lpthread", "-ldl"], check=True)
        static = os.path.join(work, src + "_static")
        subprocess.run(["cc"] + CFLAGS + [c, "-Wl,--whole-archive", lib_a, "-Wl,--no-whole-archive", "-o", static,
                        "-lpthread", "-ldl"], check=True)
        fullstatic = os.path.join(work, src + "_fullstatic")
        subprocess.run(["cc", "-static"] + CFLAGS + [c, "-Wl,--whole-archive", lib_a, "-Wl,--no-whole-archive", "-o",
                        fullstatic, "-lpthread", "-ldl"], check=True, stderr=subprocess.DEVNULL)
        progs[src] = {"so": plain, "static": static, "fullstatic": fullstatic}
    return progs


def run(prog, env_extra, lib_so, config, args=(), cwd=None):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("BRKMALLOC_") or k == "LD_PRELOAD":
            del env[k]
    env.update(env_extra)
    if config == "so":
        env["LD_PRELOAD"] = lib_so
    return subprocess.run([prog] + list(args), env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def pprof_text(prog, profile):
    """{function: flat MB}, total MB, raw output."""
    p = subprocess.run(["google-pprof", "--text", "--inuse_space", prog, profile], capture_output=True, text=True,
                       timeout=120)
    flat, total = {}, None
    for line in p.stdout.splitlines():
        m = re.match(r"Total: ([\d.]+) MB", line)
        if m:
            total = float(m.group(1))
        m = re.match(r"\s*([\d.]+)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\s+[\d.]+%\s+(\S.*)$", line)
        if m:
            flat[m.group(2).strip()] = flat.get(m.group(2).strip(), 0.0) + float(m.group(1))
    return flat, total, p.returncode, p.stdout + p.stderr


def parse_truth(stdout):
    live, freed = {}, {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("live", "freed"):
            (live if parts[0] == "live" else freed)[parts[1]] = int(parts[2])
    return live, freed


def test_sites(r, progs, lib_so, config, work):
    d = os.path.join(work, "sites-" + config)
    os.makedirs(d)
    prefix = os.path.join(d, "prof")
    mid = os.path.join(d, "mid.heap")
    leaks = os.path.join(d, "leaks.txt")
    prog = progs["sites"][config]
    p = run(prog, {"BRKMALLOC_PROFILE": prefix, "BRKMALLOC_PROFILE_RATE": RATE, "BRKMALLOC_LEAKS": leaks}, lib_so,
            config, [mid])
    if not r.check("sites_%s_runs" % config, p.returncode == 0 and "dump 0 ok" in p.stdout,
                   "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[-300:], p.stderr[-300:])):
        return
    live, freed = parse_truth(p.stdout)
    flat, total, rc, out = pprof_text(prog, mid)
    print(out[:1500])
    if not r.check("sites_%s_pprof_reads" % config, rc == 0 and total is not None and total > 0, out[-500:]):
        return
    mb = 1024.0 * 1024.0
    on_sites = sum(flat.get(s, 0.0) for s in live)
    r.check("sites_%s_90pct_on_sites" % config, on_sites >= 0.9 * total,
            "%.1f of %.1f MB on %s" % (on_sites, total, sorted(live)))
    for site, true_bytes in sorted(live.items()):
        est = flat.get(site, 0.0) * mb
        r.check("sites_%s_%s_within_20pct" % (config, site), abs(est - true_bytes) <= 0.2 * true_bytes,
                "estimated %.0f bytes, allocated %d" % (est, true_bytes))
    for site in freed:
        r.check("sites_%s_%s_not_in_use" % (config, site), flat.get(site, 0.0) * mb < 0.02 * sum(live.values()),
                "%.1f MB in use" % flat.get(site, 0.0))
    exit_files = glob.glob(prefix + ".*.heap")
    named = [f for f in exit_files if re.search(r"\.(\d+)\.0001\.heap$", f)]
    r.check("sites_%s_exit_profile_has_pid" % config, len(named) == 1, "files: %s" % exit_files)
    if named:
        flat2, total2, rc2, out2 = pprof_text(prog, named[0])
        r.check("sites_%s_exit_profile_after_frees" % config,
                rc2 == 0 and flat2.get("site_leak", 0.0) * mb > 0.8 * live["site_leak"] and
                flat2.get("site_keep_a", 0.0) == 0.0, out2[-800:])
    text = open(leaks).read() if os.path.exists(leaks) else ""
    print(text[:1200])
    m = re.search(r"leak 1: about (\d+) bytes.*?\n    #0 \S+ (\w+)", text)
    r.check("leaks_%s_names_planted_leak" % config, m is not None and m.group(2) == "site_leak" and
            abs(int(m.group(1)) - live["site_leak"]) <= 0.2 * live["site_leak"], text[:600])
    bad = [s for s in list(freed) + [s for s in live if s != "site_leak"] if s in text]
    r.check("leaks_%s_no_freed_site" % config, not bad, "report names %s" % bad)


def test_fork(r, progs, lib_so, config, work):
    d = os.path.join(work, "fork-" + config)
    os.makedirs(d)
    prefix = os.path.join(d, "prof")
    prog = progs["fork_prof"][config]
    p = run(prog, {"BRKMALLOC_PROFILE": prefix, "BRKMALLOC_PROFILE_RATE": RATE}, lib_so, config)
    m = re.search(r"parent (\d+) child (\d+) status 0", p.stdout)
    if not r.check("fork_%s_runs" % config, p.returncode == 0 and m is not None,
                   "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout, p.stderr[-300:])):
        return
    parent, child = m.group(1), m.group(2)
    files = sorted(os.path.basename(f) for f in glob.glob(prefix + ".*.heap"))
    want = ["prof.%s.0001.heap" % child, "prof.%s.0002.heap" % child, "prof.%s.0001.heap" % parent]
    r.check("fork_%s_profiles_of_both_pids" % config, sorted(want) == files, "files %s, wanted %s" % (files, want))
    for pid, site in [(parent, "site_thread"), (child, "site_child")]:
        f = "%s.%s.0001.heap" % (prefix, pid)
        if not os.path.exists(f):
            continue
        flat, total, rc, out = pprof_text(prog, f)
        r.check("fork_%s_%s_profile_valid" % (config, "parent" if pid == parent else "child"),
                rc == 0 and total and flat.get(site, 0.0) > 0, out[-800:])


def test_off(r, progs, lib_so, config, work):
    d = os.path.join(work, "off-" + config)
    os.makedirs(d)
    p = run(progs["sites"][config], {}, lib_so, config, [os.path.join(d, "mid.heap")], cwd=d)
    r.check("off_%s_no_file_no_output" % config,
            p.returncode == 0 and os.listdir(d) == [] and p.stderr == "" and "dump -1" in p.stdout,
            "exit %d, files %s, stderr %r, stdout %r" % (p.returncode, os.listdir(d), p.stderr, p.stdout[-200:]))


def test_fork_in_handler(r, lib_so, config, work):
    """tests/robust's fork-from-a-signal-handler programs again, with profiling on at a high rate: the
    profiler's lock is in fork's lock order and its sections never wait in a handler."""
    for name, args in [("fork_sigusr1", ["--sender", "process", "--seconds", "2"]), ("fork_sigalrm", ["--seconds", "2"])]:
        rel = "tests/robust/%s%s" % (name, "_static" if config == "static" else "")
        prog = None
        for b in BIN_CANDIDATES:
            if os.path.exists(os.path.join(ROOT, b, rel)):
                prog = os.path.join(ROOT, b, rel)
                break
        if not prog:
            r.check("robust_%s_%s_profiling" % (name, config), False, "missing %s (bazel build //tests/robust/...)" % rel)
            continue
        d = os.path.join(work, "robust-%s-%s" % (name, config))
        os.makedirs(d)
        try:
            p = run(prog, {"BRKMALLOC_PROFILE": os.path.join(d, "p"), "BRKMALLOC_PROFILE_RATE": "8K"}, lib_so, config,
                    args)
            ok, detail = p.returncode == 0, "exit %d: %s" % (p.returncode, (p.stdout + p.stderr)[-400:])
        except subprocess.TimeoutExpired:
            ok, detail = False, "hung"
        r.check("robust_%s_%s_profiling" % (name, config), ok, detail)


def write_xml(path, cases):
    suite = ET.Element("testsuite", name="profile", tests=str(len(cases)),
                       failures=str(sum(1 for c in cases if c[2])))
    for name, secs, failure in cases:
        tc = ET.SubElement(suite, "testcase", name=name, classname="profile", time="%.2f" % secs)
        if failure:
            ET.SubElement(tc, "failure", message=failure[:500])
    root = ET.Element("testsuites", tests=str(len(cases)), failures=suite.get("failures"), errors="0")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xml", help="write JUnit XML here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if not shutil.which("google-pprof"):
        sys.exit("google-pprof missing: scripts/setup.sh installs google-perftools")
    lib_so = find_bin("preload/libbrkmalloc.so")
    lib_a = find_bin("preload/libbrkmalloc.a")
    work = tempfile.mkdtemp(prefix="brk-profile.")
    r = Results()
    try:
        progs = build(work, lib_a)
        for config in ["so", "static", "fullstatic"]:
            test_sites(r, progs, lib_so, config, work)
            test_fork(r, progs, lib_so, config, work)
            test_off(r, progs, lib_so, config, work)
            if config != "fullstatic":
                test_fork_in_handler(r, lib_so, config, work)
    finally:
        if args.xml:
            write_xml(args.xml, r.cases)
        if args.keep:
            print("work directory kept:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    failed = sum(1 for c in r.cases if c[2])
    print("%d passed, %d failed" % (len(r.cases) - failed, failed))
    return 1 if failed or not r.cases else 0


if __name__ == "__main__":
    sys.exit(main())
