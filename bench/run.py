#!/usr/bin/python3
"""Allocator comparison runner: builds //bench/..., runs every workload and every real program
(programs.py) under every allocator in interleaved repetitions, the start-up section (startup.py), the
Google Benchmark microbenchmarks and the callgrind instruction count, and writes bench/results/<date>/
(report.md, results.csv, PNG plots). Stdlib only, plus matplotlib.

  /usr/bin/python3 bench/run.py            default, under 10 minutes on 2 cores
  /usr/bin/python3 bench/run.py --quick    a few minutes (smaller inputs, fewer reps)
  /usr/bin/python3 bench/run.py --full     larger inputs, more reps
  /usr/bin/python3 bench/run.py --smoke    CI check: each workload once, tiny, glibc vs brkmalloc checksums
  --only larson,redis,startup,mimalloc   pick workloads, real programs, the start-up section and/or allocators
  --alloc NAME=/path/lib.so  add an allocator
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import launch  # noqa: E402  (bench/launch.py: one measured run through bench/spawn)
import programs  # noqa: E402  (bench/programs.py: the real-program drivers)
import report  # noqa: E402  (bench/report.py: tables, report.md, plots)
import startup  # noqa: E402  (bench/startup.py: start-up RSS and spawn cost)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = "/usr/lib/x86_64-linux-gnu"
BAZEL_BIN = os.path.join(ROOT, "bazel-out/k8-fastbuild/bin")  # the default configuration's outputs
SPAWN = None  # the staged copy of bench/spawn
SLOW_S, SLOW_X = 5.0, 8.0  # a run this slow (seconds and times the row's best) is not repeated

# name, binary, arguments, what it does
WORKLOADS = [
    ("larson", "larson", [], "server churn: 2 threads replace random slots (16 B-1 KiB), arrays handed to new threads each epoch"),
    ("xmalloc", "xmalloc", [], "producer/consumer: every block (16-512 B) freed by another thread"),
    ("ring-2t", "ring", ["--threads=2"], "2 threads swap new 16-512 B blocks into a shared 4,096-slot ring and free what they take out (half the frees remote)"),
    ("ring-16t", "ring", ["--threads=16"], "same with 16 threads on the 2 cores (oversubscribed), same total work"),
    ("cache-scratch", "cache", ["--mode=scratch"], "passive false sharing: each thread frees a main-thread object, then malloc/write/free 8 B"),
    ("cache-thrash", "cache", ["--mode=thrash"], "active false sharing: 2 threads malloc/write hard/free 8 B objects"),
    ("mstress-1t", "mstress", ["--threads=1"], "mixed lifetimes, 16 B-64 KiB, full fill and checks, 1 thread"),
    ("mstress-2t", "mstress", ["--threads=2"], "same with 2 threads trading some blocks"),
    ("parser", "parser", [], "tokenise/parse/evaluate/simplify expression trees (C++ new/delete, std::string, std::map)"),
    ("realloc-large", "large", ["--mode=realloc"], "realloc growth 1 B -> 32 MiB in 12% steps, writing each new part, 2 rounds"),
    ("large-churn", "large", ["--mode=churn"], "16 slots of 64 KiB-1 MiB blocks replaced at random, every page touched"),
    ("fragmentation", "fragment", [], "96 MiB of small objects, free 90% at random, then 36 MiB of 1-32 KiB blocks"),
    ("mleak-idle", "mleak", [], "steady churn with slowly growing live set, free all, idle 1.5 s; RSS after"),
    ("replace-1t", "replace", ["--mode=local"], "1 thread replaces random slots of 100,000 live 16-256 B blocks"),
    ("replace-10k", "replace", ["--mode=live10k"], "1 thread replaces random slots of 10,000 live 16-512 B blocks, 8 M times"),
    ("replace-1m", "replace", ["--mode=live1m"], "same with 1,000,000 live blocks (a big heap: peak RSS shows what is held beyond the live bytes)"),
    ("replace-remote", "replace", ["--mode=remote"], "2 threads share 100,000 slots and replace only the other's blocks: every free remote"),
    ("larson-wide", "larson", ["--mode=wide"], "larson with 20,000 slots per thread, sizes 16-2048 B, 2 threads"),
    ("larson-wide-16t", "larson", ["--mode=wide", "--threads=16"], "same with 16 threads on the 2 cores (oversubscribed), same total work"),
    ("big-2m", "large", ["--mode=big2m"], "malloc(2 MiB), memset all, free, 500 times"),
    ("big-8m", "large", ["--mode=big8m"], "malloc(8 MiB), memset all, free, 120 times"),
    ("realloc-mixed", "large", ["--mode=realloc-mixed"], "realloc growth 1 KiB -> 8 MiB (300 rounds) while 16 slots of 64 KiB-1 MiB blocks are replaced"),
    ("runs-12k", "large", ["--mode=runs-many"], "24,000 blocks of 64-132 KiB, every other one freed (12,000 free runs), then 1 MiB / 800 KiB malloc+free"),
    ("runs-1", "large", ["--mode=runs-one"], "same, but all 24,000 freed first (one free run)"),
    ("cycle17", "large", ["--mode=cycle17"], "malloc, touch, free cycling 17 sizes from 64 KiB to 1 MiB"),
    ("working-set", "large", ["--mode=working-set"], "20 live blocks of 5-25 MiB, 2,000 random replacements, each new one zeroed (malloc-large's pattern)"),
    ("idle-1g", "large", ["--mode=idle-1g"], "64 x 16 MiB written, all freed, then idle: RSS every 100 ms for 3 s"),
]

# scale of inputs, repetitions, microbenchmark min time (s), callgrind pair counts, real-program input scale
# (None: no real programs), start-up repetitions and spawns per start-up measurement
MODES = {
    "smoke": dict(scale=0.02, reps=1, micro_min=None, pairs=None, idle_ms=50, prog_scale=None, startup=None,
                  spawns=0),
    "quick": dict(scale=0.2, reps=2, micro_min=0.01, pairs=(10000, 20000), idle_ms=1500, prog_scale=0.2,
                  startup=2, spawns=50),
    "default": dict(scale=1.0, reps=3, micro_min=0.1, pairs=(100000, 200000), idle_ms=1500, prog_scale=0.5,
                    startup=5, spawns=100),
    "full": dict(scale=2.0, reps=7, micro_min=0.5, pairs=(200000, 400000), idle_ms=1500, prog_scale=1.5,
                 startup=9, spawns=400),
}


def allocators(extra):
    al = [dict(name="glibc", preload=None, static=False),
          dict(name="jemalloc", preload=LIB + "/libjemalloc.so.2", static=False),
          dict(name="mimalloc", preload=LIB + "/libmimalloc.so.2", static=False),
          dict(name="tcmalloc", preload=LIB + "/libtcmalloc_minimal.so.4", static=False),
          dict(name="brk-preload", preload=os.path.join(BAZEL_BIN, "preload/libbrkmalloc.so"), static=False),
          dict(name="brk-static", preload=None, static=True)]
    for spec in extra:
        name, _, path = spec.partition("=")
        if not path or not os.path.exists(path):
            sys.exit("--alloc wants NAME=/path/to/lib.so (an existing file): %s" % spec)
        al.append(dict(name=name, preload=os.path.abspath(path), static=False))
    return al


def build(targets):
    print("building: bazel build " + " ".join(targets), file=sys.stderr, flush=True)
    r = subprocess.run(["bazel", "build"] + targets, cwd=ROOT)
    if r.returncode:
        sys.exit("bazel build failed")


def stage_binaries(tmp, allocs):
    """Copies the binaries and the shim to a private dir so concurrent builds cannot swap them mid-run."""
    global SPAWN
    src = os.path.join(BAZEL_BIN, "bench")
    for f in os.listdir(src):
        p = os.path.join(src, f)
        if os.path.isfile(p) and os.access(p, os.X_OK) and not f.endswith((".params", ".runfiles_manifest")):
            subprocess.run(["cp", p, os.path.join(tmp, f)], check=True)
    for a in allocs:  # our own shim (and any --alloc) may be rebuilt meanwhile: copy; Debian's are stable
        if a["preload"] and not a["preload"].startswith(LIB + "/"):
            dst = os.path.join(tmp, "preload-%s.so" % a["name"])
            subprocess.run(["cp", a["preload"], dst], check=True)
            a["origin"], a["preload"] = a["preload"], dst
    SPAWN = os.path.join(tmp, "spawn")


def env_for(a):
    return a["preload"]


def run_once(cmd, preload, timeout, env=None):
    """Runs cmd through bench/spawn (see launch.py); returns wall, rusage dict, exit, stdout, stderr."""
    return launch.run_once(SPAWN, cmd, preload, timeout, env)


parse_kv = launch.parse_kv


def bin_for(tmp, binary, a):
    return os.path.join(tmp, binary + ("_static" if a["static"] else ""))


class Progress:
    def __init__(self, total):
        self.total, self.done, self.t0 = total, 0, time.time()

    def show(self, what):
        el = time.time() - self.t0
        left = self.total - self.done
        eta = "" if self.done == 0 else ", ~%s to go" % fmt_t(el / self.done * left)
        print("[%3d/%d] %s elapsed%s  %s" % (self.done + 1, self.total, fmt_t(el), eta, what),
              file=sys.stderr, flush=True)

    def step(self):
        self.done += 1


def fmt_t(s):
    return "%d:%02d" % (s // 60, s % 60)


def identify(tmp, allocs):
    """Which library serves malloc in each configuration (probe: bench/whoami.cc)."""
    ids = {}
    for a in allocs:
        _, _, ex, text, _ = run_once([bin_for(tmp, "whoami", a)], env_for(a), 30)
        kv = parse_kv(text)
        ids[a["name"]] = dict(object=kv.get("malloc_object", "?"), info=kv.get("malloc_info", "?"), exit=ex)
    return ids


def run_workloads(tmp, allocs, workloads, mode, prog, rows, ref_alloc):
    for wname, binary, args, _ in workloads:
        args = args + ["--scale=%g" % mode["scale"], "--idle-ms=%d" % mode["idle_ms"]]
        slow = set()
        for rep in range(mode["reps"]):
            k = rep % len(allocs)
            order = allocs[k:] + allocs[:k]  # rotate so no allocator always runs first
            this_rep = {}
            for a in order:
                if a["name"] in slow:
                    prog.step()
                    continue
                prog.show("%-14s %-12s rep %d/%d" % (wname, a["name"], rep + 1, mode["reps"]))
                wall, ru, ex, text, etext = run_once([bin_for(tmp, binary, a)] + args, env_for(a), 600)
                kv = parse_kv(text)
                this_rep[a["name"]] = wall
                rows.append(dict(workload=wname, allocator=a["name"], rep=rep + 1, wall_s=round(wall, 4),
                                 user_s=round(ru["user"], 4), sys_s=round(ru["sys"], 4),
                                 peak_rss_kb=ru["maxrss_kb"], rss_final_kb=kv.get("rss_final_kb", ""),
                                 rss_idle_kb=kv.get("rss_idle_kb", ""), exit=ex,
                                 checksum=kv.get("checksum", ""), stderr=etext.strip()[-200:]))
                prog.step()
            best = min(this_rep.values(), default=0)
            slow |= {n for n, w in this_rep.items() if w > SLOW_S and w > SLOW_X * best}
        if ref_alloc is not None:  # glibc not selected: one untimed reference run for the checksum
            _, _, ex, text, _ = run_once([bin_for(tmp, binary, ref_alloc)] + args, env_for(ref_alloc), 600)
            rows.append(dict(workload=wname, allocator="(glibc-ref)", rep=0, exit=ex,
                             checksum=parse_kv(text).get("checksum", "")))


def run_programs(tmp, allocs, progs, mode, prog, rows, want_ref):
    """Real programs, interleaved like the workloads, under every configuration that can preload (brk-static
    cannot: a real program cannot link our archive; the report shows n/a). A program that is missing or fails
    to prepare gets one row per allocator saying why."""
    work = os.path.join(tmp, "programs")
    os.makedirs(work, exist_ok=True)
    runnable = [a for a in allocs if programs.preload_for(a)]
    for p in progs:
        why = p.missing()
        if why is None:
            try:
                p.prepare(work, mode["prog_scale"])
            except Exception as e:  # noqa: BLE001  (reported in the row, never dropped)
                why = "prepare failed: %s" % e
        for rep in range(mode["reps"]):
            k = rep % len(runnable)
            for a in runnable[k:] + runnable[:k]:
                if why:
                    if rep == 0:
                        rows.append(dict(programs.failed_row(why), workload=p.name, allocator=a["name"], rep=1,
                                         kind="program"))
                    prog.step()
                    continue
                prog.show("%-14s %-12s rep %d/%d" % (p.name, a["name"], rep + 1, mode["reps"]))
                r = programs.measured(p, SPAWN, programs.preload_for(a))
                rows.append(dict(r, workload=p.name, allocator=a["name"], rep=rep + 1, kind="program"))
                prog.step()
        if want_ref and not why:  # glibc not selected: one untimed reference run for the check value
            r = programs.measured(p, SPAWN, programs.GLIBC_SO)
            rows.append(dict(exit=r["exit"], checksum=r["checksum"], workload=p.name, allocator="(glibc-ref)",
                             rep=0, kind="program"))


def run_micro(tmp, allocs, mode, prog):
    """Google Benchmark: ns per operation per benchmark per configuration."""
    res = {}
    configs = [(a["name"], bin_for(tmp, "micro_malloc", a), env_for(a)) for a in allocs]
    if any(a["name"] == "brk-static" for a in allocs):
        configs.append(("brk-prefixed", os.path.join(tmp, "micro_prefixed"), None))
    for name, binary, env in configs:
        prog.show("microbenchmarks under %s" % name)
        reps = ["--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"] if mode["reps"] > 5 else []
        _, _, ex, text, etext = run_once([binary, "--benchmark_format=json",
                                          "--benchmark_min_time=%g" % mode["micro_min"]] + reps, env, 600)
        prog.step()
        try:
            data = json.loads(text)
        except ValueError:
            res[name] = {"error": ex + " " + etext[-200:]}
            continue
        res[name] = {b.get("run_name", b["name"]): 1e9 / b["items_per_second"] for b in data["benchmarks"]
                     if b.get("items_per_second") and b.get("aggregate_name", "median") == "median"}
    return res


def callgrind_ir(binary, env, n, tmp):
    out = os.path.join(tmp, "cg.out")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, "--toggle-collect=run_pairs",
           "--soname-synonyms=somalloc=nouserintercepts", binary, str(n)]
    _, _, ex, _, etext = run_once(cmd, env, 600)
    ir = None
    if os.path.exists(out):
        with open(out) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    ir = int(line.split()[1])
        os.unlink(out)
    return ir, ex, etext


def run_callgrind(tmp, allocs, mode, prog):
    """Instructions per malloc(64)+free pair: (Ir(N2)-Ir(N1))/(N2-N1), counted only inside run_pairs."""
    n1, n2 = mode["pairs"]
    res = {}
    configs = [(a["name"], bin_for(tmp, "pairs", a), env_for(a)) for a in allocs]
    if any(a["name"] == "brk-static" for a in allocs):
        configs.append(("brk-prefixed", os.path.join(tmp, "pairs_prefixed"), None))
    for name, binary, env in configs:
        prog.show("callgrind pair count under %s" % name)
        i1, ex1, e1 = callgrind_ir(binary, env, n1, tmp)
        i2, ex2, e2 = callgrind_ir(binary, env, n2, tmp)
        prog.step()
        if i1 is None or i2 is None:
            res[name] = dict(error="%s / %s: %s" % (ex1, ex2, (e2 or e1).strip().splitlines()[-1:]))
        else:
            res[name] = dict(ir_per_pair=(i2 - i1) / (n2 - n1), ir1=i1, ir2=i2, n1=n1, n2=n2)
    return res


def write_junit(path, suite, cases):
    """cases: (name, ok, message). One JUnit testsuite, as scripts/count_results.py counts it."""
    from xml.sax.saxutils import quoteattr
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<testsuite name=%s tests="%d" failures="%d">' % (quoteattr(suite), len(cases),
                                                              sum(1 for c in cases if not c[1]))]
    for name, ok, msg in cases:
        lines.append('  <testcase classname=%s name=%s>%s</testcase>' % (
            quoteattr(suite), quoteattr(name), "" if ok else "<failure message=%s/>" % quoteattr(msg)))
    lines.append("</testsuite>")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def smoke(tmp, allocs, workloads, mode, xml=None):
    """Each workload once at a tiny size; every allocator's checksum must equal glibc's and exit 0."""
    cases = []
    rows = []
    prog = Progress(len(workloads) * len(allocs))
    run_workloads(tmp, allocs, workloads, mode, prog, rows, None)
    bad = 0
    for wname, _, _, _ in workloads:
        rr = [r for r in rows if r["workload"] == wname]
        ref = next(r["checksum"] for r in rr if r["allocator"] == "glibc")
        for r in rr:
            ok = bool(r["exit"] == "exit 0" and r["checksum"] == ref and ref)
            bad += not ok
            cases.append(("%s/%s" % (wname, r["allocator"]), ok,
                          "%s checksum=%s (glibc: %s)" % (r["exit"], r["checksum"], ref)))
            print("%-4s %-14s %-12s %s checksum=%s %.2fs" % ("ok" if ok else "FAIL", wname, r["allocator"],
                                                            r["exit"], r["checksum"], r["wall_s"]))
    ids = identify(tmp, allocs)
    for name, i in ids.items():
        if name.startswith("brk"):
            ok = "brkmalloc" in i["info"]
            cases.append(("identity/%s" % name, ok, "malloc is %s (%s)" % (i["object"], i["info"])))
            if not ok:
                bad += 1
                print("FAIL %s: malloc is not brkmalloc (%s, %s)" % (name, i["object"], i["info"]))
    print("smoke: %d checks, %d failed" % (len(cases), bad))
    if xml:
        write_junit(xml, "bench-smoke", cases)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    for m in ("quick", "full", "smoke"):
        g.add_argument("--" + m, action="store_true")
    ap.add_argument("--only", default="", help="comma-separated workload and/or allocator names")
    ap.add_argument("--alloc", action="append", default=[], help="NAME=PATH.so: add an LD_PRELOAD allocator")
    ap.add_argument("--reps", type=int, help="override the number of repetitions")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already in bazel-bin")
    ap.add_argument("--out", help="results directory (default bench/results/<YYYY-MM-DD>)")
    ap.add_argument("--xml", help="with --smoke: write the checks as JUnit XML here")
    ap.add_argument("--rerender", metavar="DIR", help="rewrite report.md and plots from DIR/raw.json, run nothing")
    args = ap.parse_args()
    if args.rerender:
        with open(os.path.join(args.rerender, "raw.json")) as f:
            ctx = json.load(f)
        ctx["workloads"] = [tuple(w) for w in ctx["workloads"]]
        ctx["programs"] = [tuple(p) for p in ctx.get("programs", [])]
        ctx["mode_params"]["pairs"] = tuple(ctx["mode_params"]["pairs"] or ()) or None
        return finish(args.rerender, ctx)
    mname = "quick" if args.quick else "full" if args.full else "smoke" if args.smoke else "default"
    mode = dict(MODES[mname])
    if args.reps:
        mode["reps"] = args.reps
    allocs, workloads = allocators(args.alloc), list(WORKLOADS)
    progs = list(programs.PROGRAMS) if mode["prog_scale"] else []
    if args.smoke:
        allocs = [a for a in allocs if a["name"] in ("glibc", "brk-preload", "brk-static")]
    only = [s for s in args.only.split(",") if s]
    rownames = [w[0] for w in WORKLOADS] + [p.name for p in programs.PROGRAMS] + ["startup"]
    unknown = [s for s in only if s not in rownames + [a["name"] for a in allocs]]
    if unknown:
        sys.exit("--only: unknown name(s) %s; workloads: %s; real programs: %s; section: startup; allocators: %s" % (
            ",".join(unknown), ",".join(w[0] for w in WORKLOADS), ",".join(p.name for p in programs.PROGRAMS),
            ",".join(a["name"] for a in allocs)))
    do_startup = bool(mode["startup"])
    if any(s in rownames for s in only):
        workloads = [w for w in workloads if w[0] in only]
        progs = [p for p in progs if p.name in only]
        do_startup = do_startup and "startup" in only
    ref_alloc = None
    if any(s in [a["name"] for a in allocs] for s in only):
        if "glibc" not in only:
            ref_alloc = allocs[0]
        allocs = [a for a in allocs if a["name"] in only]
    if not args.no_build:
        build(["//bench/...", "//preload:libbrkmalloc.so"])
    t_start = time.time()
    load0 = open("/proc/loadavg").read().split()[0]
    with tempfile.TemporaryDirectory(prefix="brkbench.") as tmp:
        stage_binaries(tmp, allocs)
        if args.smoke:
            sys.exit(smoke(tmp, allocs, workloads, mode, args.xml))
        n_micro = len(allocs) + 1 if mode["micro_min"] else 0
        n_prog = len(progs) * len([a for a in allocs if programs.preload_for(a)]) * mode["reps"]
        prog = Progress(len(workloads) * len(allocs) * mode["reps"] + n_prog + 2 * n_micro +
                        (len(allocs) * mode["startup"] if do_startup else 0))
        ids = identify(tmp, allocs)
        rows = []
        run_workloads(tmp, allocs, workloads, mode, prog, rows, ref_alloc)
        run_programs(tmp, allocs, progs, mode, prog, rows, ref_alloc is not None)
        st = startup.run(tmp, SPAWN, allocs, mode["startup"], mode["spawns"], prog) if do_startup else {}
        micro = run_micro(tmp, allocs, mode, prog) if mode["micro_min"] else {}
        cg = run_callgrind(tmp, allocs, mode, prog) if mode["pairs"] else {}
    out = args.out or os.path.join(ROOT, "bench/results", time.strftime("%Y-%m-%d"))
    os.makedirs(out, exist_ok=True)
    ctx = dict(mode=mname, mode_params=mode, allocs=allocs, workloads=workloads,
               programs=[(p.name, p.what) for p in progs], startup=st, ids=ids, rows=rows, micro=micro,
               callgrind=cg, elapsed=time.time() - t_start, root=ROOT, argv=sys.argv[1:],
               load=(load0, open("/proc/loadavg").read().split()[0]), slow=(SLOW_S, SLOW_X))
    with open(os.path.join(out, "raw.json"), "w") as f:  # everything measured, for --rerender
        json.dump(ctx, f, indent=1)
    finish(out, ctx)


def finish(out, ctx):
    text, overview = report.write_all(out, ctx)
    print(text)
    print("\n" + overview)  # last, so the terminal ends on the comparison
    print("\nReport: %s\nCSV:    %s\nPlots:  %s" % (os.path.join(out, "report.md"), os.path.join(out, "results.csv"),
                                                   ", ".join(os.path.join(out, p) for p in report.PLOTS
                                                             if os.path.exists(os.path.join(out, p)))))


if __name__ == "__main__":
    main()
