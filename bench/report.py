"""Turns bench/run.py's raw runs into results.csv, report.md (machine, method, targets, tables) and PNG
plots. Medians over repetitions; ratios are to the best allocator in the same row; a run whose checksum
differs from glibc's (or that does not exit 0) is marked broken and left out of ratios and means."""
import csv
import math
import os
import platform
import statistics
import subprocess
import time

PLOTS = ["time_ratio.png", "peak_rss.png", "instructions.png", "programs.png"]
BRK = "brk-preload"  # the configuration the targets are reported for (the shipped LD_PRELOAD shim)
PACKAGES = ["libc6", "libjemalloc2", "libmimalloc2.0", "libtcmalloc-minimal4", "libbenchmark1debian", "valgrind",
            "gcc-12", "bazel-bootstrap", "python3-matplotlib", "redis-server", "redis-tools", "rocksdb-tools",
            "sqlite3", "python3.11", "xz-utils"]


def sh(cmd, cwd=None):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd).stdout.strip()
    except OSError:
        return ""


def machine(root):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 2**20)
    thp = sh(["cat", "/sys/kernel/mm/transparent_hugepage/enabled"])
    pk = sh(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + PACKAGES)
    commit = sh(["git", "rev-parse", "--short", "HEAD"], root)
    dirty = sh(["git", "status", "--porcelain", "--", "allocator", "preload"], root)
    return dict(cpu=cpu, cores=os.cpu_count(), mem=mem, kernel=platform.release(), thp=thp,
                glibc=os.confstr("CS_GNU_LIBC_VERSION"), packages=pk,
                commit=commit + (" (allocator/preload have uncommitted changes)" if dirty else ""))


def all_rows(ctx):
    """Synthetic workloads and real programs (each a tuple whose [0] is its name)."""
    return list(ctx["workloads"]) + list(ctx.get("programs", []))


def aggregate(ctx):
    """Per (workload or program, allocator): medians, spread, status, the programs' own figures."""
    agg = {}
    refs = {}
    for r in ctx["rows"]:
        if r["allocator"] in ("glibc", "(glibc-ref)") and r["exit"] == "exit 0" and r["checksum"]:
            refs.setdefault(r["workload"], r["checksum"])
    for w in all_rows(ctx):
        for a in ctx["allocs"]:
            rr = [r for r in ctx["rows"] if r["workload"] == w[0] and r["allocator"] == a["name"]]
            if not rr:
                continue
            bad = [r for r in rr if r["exit"] != "exit 0" or r["checksum"] != refs.get(w[0])]
            walls = [r["wall_s"] for r in rr]
            med = statistics.median
            fin = [int(r["rss_final_kb"]) for r in rr if r.get("rss_final_kb", "") != ""]
            idle = [int(r["rss_idle_kb"]) for r in rr if r.get("rss_idle_kb", "") != ""]
            figs = {}
            for r in rr:
                for k, v in r.get("figures", {}).items():
                    figs.setdefault(k, []).append(v)
            agg[(w[0], a["name"])] = dict(
                ok=not bad, why=(bad[0]["exit"] + (" checksum differs from glibc" if bad[0]["checksum"] != refs.get(w[0]) else "")
                                 + (" " + bad[0]["stderr"][-120:] if bad[0]["stderr"] else "")) if bad else "",
                wall=med(walls), cpu=med([r["user_s"] + r["sys_s"] for r in rr]),
                rss=med([r["peak_rss_kb"] for r in rr]), fin=med(fin) if fin else None, idle=med(idle) if idle else None,
                n=len(rr), spread=(max(walls) - min(walls)) / med(walls) if med(walls) > 0 else 0,
                figures={k: med(v) for k, v in figs.items()}, proof=rr[0].get("proof", {}).get("text", ""))
    return agg


def ratios(agg, ctx, key):
    """ratio[(w, a)] = value / best value in the row (ok runs only)."""
    out = {}
    for w in all_rows(ctx):
        vals = {a["name"]: agg[(w[0], a["name"])][key] for a in ctx["allocs"]
                if (w[0], a["name"]) in agg and agg[(w[0], a["name"])]["ok"]}
        if not vals:
            continue
        best = min(vals.values())
        for a, v in vals.items():
            out[(w[0], a)] = v / best if best > 0 else float("nan")
    return out


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def metric_table(ctx, agg, rat, key, fmt, total_label, ws=None):
    names = [a["name"] for a in ctx["allocs"]]
    static = {a["name"] for a in ctx["allocs"] if a["static"]}
    ws = ctx["workloads"] if ws is None else ws
    is_prog = ws is not ctx["workloads"]
    rows = []
    for w in ws:
        row = [w[0]]
        for a in names:
            c = agg.get((w[0], a))
            if c is None:
                row.append("n/a" if is_prog and a in static else "-")
            elif not c["ok"]:
                row.append("BROKEN")
            else:
                row.append("%s (%.2fx)%s" % (fmt(c[key]), rat[(w[0], a)],
                                             " n=%d" % c["n"] if c["n"] < ctx["mode_params"]["reps"] else ""))
        if key == "wall":
            row.append("%.0f%%" % (100 * spread_of(agg, ctx, w[0])))
        rows.append(row)
    gm = [total_label]
    for a in names:
        rs = [rat.get((w[0], a)) for w in ws]
        n_bad = sum(1 for w in ws if (w[0], a) in agg and not agg[(w[0], a)]["ok"])
        gm.append("n/a" if is_prog and a in static else
                  "**%.2fx**%s" % (geomean(rs), " (%d broken rows left out)" % n_bad if n_bad else ""))
    if key == "wall":
        gm.append("")
    return table(["program" if is_prog else "workload"] + names + (["spread"] if key == "wall" else []), rows + [gm])


def spread_of(agg, ctx, w):
    return max((agg[(w, a["name"])]["spread"] for a in ctx["allocs"] if (w, a["name"]) in agg), default=0)


def targets(ctx, agg, trat, rrat):
    names = [a["name"] for a in ctx["allocs"]]
    out = []
    if BRK not in names:
        return ["(brk-preload not in this run: no targets reported)"]
    gm = {a: geomean([trat.get((w[0], a)) for w in ctx["workloads"]]) for a in names}
    if "mimalloc" in gm:
        v = gm[BRK] / gm["mimalloc"]
        out.append("- Time, geometric mean of ratios to best: brkmalloc %.2fx, mimalloc %.2fx, so brkmalloc/mimalloc = "
                   "**%.2f** (target <= 1.0: %s)." % (gm[BRK], gm["mimalloc"], v, "met" if v <= 1.0 else "SHORT"))
    over = [(w[0], trat[(w[0], BRK)]) for w in ctx["workloads"] if (w[0], BRK) in trat and trat[(w[0], BRK)] > 1.25]
    broken = [w[0] for w in ctx["workloads"] if (w[0], BRK) in agg and not agg[(w[0], BRK)]["ok"]]
    n = sum(1 for w in ctx["workloads"] if (w[0], BRK) in agg)
    out.append("- Workloads within 1.25x of the best time: %d of %d%s%s." % (
        n - len(over) - len(broken), n,
        "; SHORT on " + ", ".join("%s (%.2fx%s)" % (w, x, ", row spread %.0f%%" % (100 * spread_of(agg, ctx, w))
                                                    if ctx["mode_params"]["reps"] > 1 else "") for w, x in over)
        if over else "",
        "; BROKEN on " + ", ".join(broken) if broken else ""))
    rg = {a: geomean([rrat.get((w[0], a)) for w in ctx["workloads"]]) for a in names}
    lean = min(rg, key=lambda a: rg[a])
    out.append("- Peak RSS, geometric mean of ratios to the leanest per row: brkmalloc %.2fx; leanest overall %s "
               "%.2fx (%s)." % (rg[BRK], lean, rg[lean], "brkmalloc is the leanest" if lean == BRK else
                                "SHORT by %.0f%%" % (100 * (rg[BRK] / rg[lean] - 1))))
    cg = ctx["callgrind"]
    if cg.get(BRK, {}).get("ir_per_pair") and cg.get("mimalloc", {}).get("ir_per_pair"):
        b, m = cg[BRK]["ir_per_pair"], cg["mimalloc"]["ir_per_pair"]
        out.append("- Instructions per malloc(64)+free pair (callgrind): brkmalloc %.1f (preload), mimalloc %.1f: "
                   "ratio **%.2f** (%s)." % (b, m, b / m, "met" if b <= m else "SHORT"))
    if "mimalloc" in gm and over:
        w0 = max(over, key=lambda o: o[1])[0]
        rest = [w[0] for w in ctx["workloads"] if w[0] != w0]
        b2 = geomean([trat.get((w, BRK)) for w in rest])
        m2 = geomean([trat.get((w, "mimalloc")) for w in rest])
        out.append("- Without brkmalloc's worst row (%s) the time geometric means would be brkmalloc %.2fx, mimalloc "
                   "%.2fx (ratio %.2f): that one row dominates the figure above." % (w0, b2, m2, b2 / m2))
    load = ctx.get("load")
    if load and max(float(x) for x in load) > (os.cpu_count() or 1):
        out.append("- CAUTION: the load average (%s at start, %s at end) exceeded the %d cores: other jobs competed "
                   "for the CPUs, so rows with a large spread (multi-threaded ones above all) say more about the "
                   "machine than the allocators. CPU time (below) is less affected; rerun on a quiet machine."
                   % (load[0], load[1], os.cpu_count()))
    worst = sorted(((trat[(w[0], BRK)], w[0]) for w in ctx["workloads"] if (w[0], BRK) in trat), reverse=True)[:3]
    out.append("- Three worst time rows for brkmalloc: " + ", ".join("%s %.2fx" % (w, r) for r, w in worst) + ".")
    progs = ctx.get("programs", [])
    if progs:
        rt = {a: group_means(ctx, trat, a)[1] for a in names}
        got = [p[0] for p in progs if (p[0], BRK) in trat]
        bad = [p[0] for p in progs if (p[0], BRK) in agg and not agg[(p[0], BRK)]["ok"]]
        slow = ["%s (%.2fx)" % (p, trat[(p, BRK)]) for p in got if trat[(p, BRK)] > 1.25]
        out.append("- Real programs: brkmalloc time geomean %s, mimalloc %s; within 1.25x of the best on %d of %d%s%s."
                   % (fx(rt.get(BRK)), fx(rt.get("mimalloc")), len(got) - len(slow), len(progs),
                      "; SHORT on " + ", ".join(slow) if slow else "", "; BROKEN on " + ", ".join(bad) if bad else ""))
    return out


def log_labels(ax):
    """Plain numbers on a log axis; minor ticks labelled only when the range is under a decade (else they crowd)."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter
    ax.yaxis.set_major_formatter(ScalarFormatter())
    lo, hi = ax.get_ylim()
    ax.yaxis.set_minor_formatter(ScalarFormatter() if lo > 0 and hi / lo < 10 else NullFormatter())


def plots(out, ctx, agg, trat):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not available (run with /usr/bin/python3): no plots"
    names = [a["name"] for a in ctx["allocs"]]
    ws = [w[0] for w in ctx["workloads"]]
    width = 0.8 / max(1, len(names))

    def bars(fname, values, ylabel, title, logy=False, line=None):
        per = 12  # workloads per panel: more rows of panels rather than one very wide figure
        chunks = [ws[k:k + per] for k in range(0, len(ws), per)]
        fig, axes = plt.subplots(len(chunks), 1, figsize=(max(8, min(len(ws), per) * 1.1), 4.8 * len(chunks)),
                                 squeeze=False)
        for ax, part in zip(axes[:, 0], chunks):
            for i, a in enumerate(names):
                xs = [j + i * width for j in range(len(part))]
                ax.bar(xs, [values.get((w, a), 0) or 0 for w in part], width, label=a)
            ax.set_xticks([j + 0.4 - width / 2 for j in range(len(part))])
            ax.set_xticklabels(part, rotation=30, ha="right")
            ax.set_ylabel(ylabel)
            if logy:
                ax.set_yscale("log")
                log_labels(ax)
            if line:
                ax.axhline(line, color="grey", linestyle="--", linewidth=0.8)
            ax.legend(fontsize=8, ncol=3)
        axes[0, 0].set_title(title)
        fig.tight_layout()
        fig.savefig(os.path.join(out, fname), dpi=110)
        plt.close(fig)

    tr = dict(trat)
    for a in names:  # a last group: each allocator's geometric mean
        tr[("geomean", a)] = geomean([trat.get((w, a)) for w in ws])
    ws.append("geomean")
    bars("time_ratio.png", tr, "median wall time / best in row (log scale)",
         "Time ratio to the fastest allocator per workload (lower is better; dashed: 1.25x)", logy=True, line=1.25)
    ws.pop()
    rss = {k: v["rss"] / 1024 for k, v in agg.items() if v["ok"]}
    bars("peak_rss.png", rss, "peak RSS (MiB, log scale)", "Peak RSS per workload (lower is better)", logy=True)
    cg = {k: v["ir_per_pair"] for k, v in ctx["callgrind"].items() if "ir_per_pair" in v}
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(list(cg), list(cg.values()), color="tab:blue")
    for i, v in enumerate(cg.values()):
        ax.text(i, v, "%.0f" % v, ha="center", va="bottom")
    ax.set_ylabel("instructions per malloc(64)+free")
    ax.set_title("Instructions per 64-byte pair (callgrind, lower is better)")
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "instructions.png"), dpi=110)
    plt.close(fig)
    programs_plot(plt, out, ctx, agg, trat)
    return ""


def programs_plot(plt, out, ctx, agg, trat):
    """programs.png: time ratio (with each allocator's geomean) and peak RSS per real program."""
    ps = [p[0] for p in ctx.get("programs", [])]
    names = [a["name"] for a in ctx["allocs"] if not a["static"]]
    if not ps:
        return
    width = 0.8 / max(1, len(names))
    fig, axes = plt.subplots(1, 2, figsize=(max(10, 2.2 * len(ps)), 4.8))
    groups = [ps + ["geomean"], ps]
    for ax, key, ylabel, title in ((axes[0], "time", "median time / best (log scale)", "Real programs: time ratio"),
                                   (axes[1], "rss", "peak RSS (MiB)", "Real programs: peak RSS")):
        xs_names = groups[0] if key == "time" else groups[1]
        for i, a in enumerate(names):
            if key == "time":
                vals = [trat.get((p, a), 0) or 0 for p in ps] + [group_means(ctx, trat, a)[1] or 0]
            else:
                vals = [agg[(p, a)]["rss"] / 1024 if (p, a) in agg and agg[(p, a)]["ok"] else 0 for p in ps]
            ax.bar([j + i * width for j in range(len(xs_names))], vals, width, label=a)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(xs_names))])
        ax.set_xticklabels(xs_names, rotation=30, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if key == "time":
            ax.set_yscale("log")
            log_labels(ax)
            ax.axhline(1.25, color="grey", linestyle="--", linewidth=0.8)
        ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "programs.png"), dpi=110)
    plt.close(fig)


def write_csv(out, ctx):
    """One row per workload run; then one per microbenchmark figure and per instruction count (value, unit)."""
    keys = ["kind", "workload", "allocator", "rep", "wall_s", "user_s", "sys_s", "peak_rss_kb", "rss_final_kb",
            "rss_idle_kb", "exit", "checksum", "value", "unit"]
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        wr.writeheader()
        for r in ctx["rows"]:
            wr.writerow(dict(r, kind="run"))
        for name, m in sorted(ctx["micro"].items()):
            for bench, ns in sorted(m.items()):
                if bench != "error":
                    wr.writerow(dict(kind="micro", workload=bench, allocator=name, value=round(ns, 3), unit="ns/op"))
        for name, c in sorted(ctx["callgrind"].items()):
            if "ir_per_pair" in c:
                wr.writerow(dict(kind="callgrind", workload="malloc(64)+free", allocator=name,
                                 value=c["ir_per_pair"], unit="instructions/pair"))
        for r in ctx["rows"]:  # the real programs' own throughput figures, one line per figure per run
            for k, v in sorted(r.get("figures", {}).items()):
                wr.writerow(dict(kind="figure", workload="%s: %s" % (r["workload"], k), allocator=r["allocator"],
                                 rep=r["rep"], value=v, unit=k.split()[-1]))
        for case, cells in ctx.get("startup", {}).items():
            for name, c in cells.items():
                if c["value"] is not None:
                    wr.writerow(dict(kind="startup", workload=case, allocator=name, value=c["value"], unit=c["unit"]))


def group_means(ctx, rat, a):
    """(synthetic geomean, real-program geomean or None, overall). Overall weighs the two groups equally
    (the geometric mean of the two means), so 21 synthetic rows do not drown 6 real programs."""
    syn = geomean([rat.get((w[0], a)) for w in ctx["workloads"]])
    progs = ctx.get("programs", [])
    real = geomean([rat.get((p[0], a)) for p in progs]) if progs else None
    if real is not None and math.isnan(real):
        real = None
    if not ctx["workloads"]:
        return syn, real, real
    return syn, real, (math.sqrt(syn * real) if real is not None else (syn if not progs else None))


def fx(v):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else "%.2fx" % v


def overview(ctx, agg, trat, crat, rrat):
    """The closing block the main command prints last: one line per allocator (geometric means of the ratios
    in the report's tables, synthetic and real programs apart and an overall figure, and the callgrind pair
    count), then the targets summary."""
    rows = []
    for a in [x["name"] for x in ctx["allocs"]]:
        cg = ctx["callgrind"].get(a, {})
        st, rt, ot = group_means(ctx, trat, a)
        sr, rr, orr = group_means(ctx, rrat, a)
        rows.append([a, fx(st), fx(geomean([crat.get((w[0], a)) for w in ctx["workloads"]])), fx(sr), fx(rt), fx(rr),
                     fx(ot), fx(orr), "%.1f" % cg["ir_per_pair"] if "ir_per_pair" in cg else "-"])
    n_p = len(ctx.get("programs", []))
    return "\n".join(["## Overview (geometric means of ratios to the best per row; 1.00x = best in every row)", "",
                      "Synthetic: %d workloads (bench/*.cc). Real programs: %d (bench/programs.py; "
                      "preloaded only, so brk-static has none). Overall = geometric mean of the synthetic and the "
                      "real-program figure: the two groups weigh the same, whatever their number of rows." % (
                          len(ctx["workloads"]), n_p), "",
                      table(["allocator", "synthetic wall time", "synthetic CPU", "synthetic peak RSS",
                             "real programs time", "real programs peak RSS", "overall time", "overall peak RSS",
                             "instructions per malloc(64)+free"], rows), "",
                      "## Against the targets (reported, never asserted)", ""]
                     + targets(ctx, agg, trat, rrat))


def programs_section(ctx, agg, trat, crat, rrat):
    progs = ctx.get("programs", [])
    if not progs:
        return []
    names = [a["name"] for a in ctx["allocs"]]
    static = {a["name"] for a in ctx["allocs"] if a["static"]}
    L = ["## Real programs", "",
         "Each program runs under every preloaded allocator (the glibc row preloads libc.so.6 itself, since Debian's "
         "redis-server is linked with libjemalloc); brk-static is n/a, a real program cannot link our archive. A run "
         "counts only if the program's own success test passed and its check value (below) equals glibc's, and if "
         "the dynamic loader's LD_DEBUG=bindings output of every process bound `malloc` to the allocator of the "
         "row (a mismatch fails the run as `wrong allocator`). Redis: time = the redis-benchmark clients' wall "
         "time, CPU and peak RSS = the server's (rusage after SHUTDOWN NOSAVE). Time ratios here are separate "
         "from the synthetic ones; the overview combines both.", "",
         table(["program", "what it does"], [[p[0], p[1]] for p in progs]), "",
         "### Time (median seconds, ratio to best)", "",
         metric_table(ctx, agg, trat, "wall", lambda v: "%.3f" % v, "geometric mean (real programs)", progs), "",
         "### CPU time, user+sys (median seconds, ratio to best)", "",
         metric_table(ctx, agg, crat, "cpu", lambda v: "%.3f" % v, "geometric mean (real programs)", progs), "",
         "### Peak RSS (median MiB, ratio to leanest)", "",
         metric_table(ctx, agg, rrat, "rss", lambda v: "%.1f" % (v / 1024), "geometric mean (real programs)", progs),
         ""]
    figrows = []
    for p in progs:
        keys = []
        for a in names:
            for k in agg.get((p[0], a), {}).get("figures", {}):
                if k not in keys:
                    keys.append(k)
        for k in keys:
            figrows.append(["%s %s" % (p[0], k)] + [
                "%.0f" % agg[(p[0], a)]["figures"][k] if (p[0], a) in agg and k in agg[(p[0], a)]["figures"] else
                "n/a" if a in static else "-" for a in names])
    if figrows:
        L += ["### The programs' own figures (medians; higher is better)", "", table(["figure"] + names, figrows), ""]
    L += ["### Check values and proof of the allocator (first run of each cell)", "",
          table(["program"] + names, [[p[0]] + [
              ("%s; %s" % ([r["checksum"] for r in ctx["rows"] if r["workload"] == p[0] and r["allocator"] == a][0],
                           agg[(p[0], a)]["proof"]) if agg[(p[0], a)]["ok"] else "BROKEN: " + agg[(p[0], a)]["why"])
              if (p[0], a) in agg else "n/a" for a in names] for p in progs]), ""]
    return L


def startup_section(ctx):
    st = ctx.get("startup")
    if not st:
        return []
    names = [a["name"] for a in ctx["allocs"]]
    rows = []
    for case, cells in st.items():
        cell = []
        unit = next(iter(cells.values()))["unit"]
        vals = [c["value"] for c in cells.values() if c["value"]]
        best = min(vals) if vals else None
        for a in names:
            c = cells.get(a)
            if c is None:
                cell.append("n/a")
            elif c["value"] is None:
                cell.append("FAILED: " + c["error"][:60])
            else:
                cell.append(("%.1f MiB" % (c["value"] / 1024) if unit == "KiB" else "%.0f us" % c["value"]) +
                            " (%.2fx)" % (c["value"] / best))
        rows.append([case + (" (peak RSS)" if unit == "KiB" else " (per spawn+wait)")] + cell)
    mp = ctx["mode_params"]
    return ["## Start-up", "",
            "What the allocator costs a program that does almost nothing. Peak RSS = ru_maxrss of the process (what "
            "`/usr/bin/time -f %%M` prints; taken by the static bench/spawn launcher). Spawn = mean microseconds per "
            "posix_spawn+waitpid over %d spawns (bench/spawn_cost.cc) of bench/hello_c.c and bench/hello_cxx.cc. "
            "Medians of %d interleaved repetitions; glibc runs with no preload; brk-static only has our own C and "
            "C++ programs (built with the archive)." % (mp.get("spawns", 0), mp.get("startup", 0)), "",
            table(["case"] + names, rows), ""]


def write_all(out, ctx):
    agg = aggregate(ctx)
    trat, crat, rrat = ratios(agg, ctx, "wall"), ratios(agg, ctx, "cpu"), ratios(agg, ctx, "rss")
    write_csv(out, ctx)
    perr = plots(out, ctx, agg, trat)
    m = machine(ctx["root"])
    mp = ctx["mode_params"]
    names = [a["name"] for a in ctx["allocs"]]
    L = ["# brkmalloc allocator comparison (%s)" % time.strftime("%Y-%m-%d %H:%M"), ""]
    L += ["Produced by `/usr/bin/python3 bench/run.py %s` (mode %s) in %s, repository commit %s." % (
        " ".join(ctx["argv"]), ctx["mode"], "%d:%02d" % divmod(int(ctx["elapsed"]), 60), m["commit"]), ""]
    ov = overview(ctx, agg, trat, crat, rrat)
    L += [ov, ""]
    L += ["## Machine", "",
          "- CPU: %s, %d cores (a small virtual machine: figures include noisy-neighbour effects)" % (m["cpu"], m["cores"]),
          "- Memory: %s; kernel %s; transparent huge pages: %s" % (m["mem"], m["kernel"], m["thp"]),
          "- %s" % m["glibc"],
          "- Load average (1 min) at start / end: %s / %s (other jobs on this machine add noise; see the spread "
          "column)" % tuple(ctx.get("load", ("?", "?"))), "- Packages (dpkg-query):", ""] + ["    " + l for l in m["packages"].splitlines()] + [""]
    L += ["## Allocators and proof of which one ran", "",
          "Probe `bench/whoami.cc` run under each configuration: the object defining `malloc` (dladdr) and the first "
          "line of `malloc_info` (brkmalloc's starts `<malloc version=\"brkmalloc-1\">`; the other allocators do not "
          "implement `malloc_info`, so glibc's answers for them).", ""]
    L.append(table(["allocator", "how", "malloc defined in", "malloc_info"], [
        [a["name"], ("LD_PRELOAD=" + a.get("origin", a["preload"]).replace(ctx["root"] + "/", "")) if a["preload"] else
         ("linked in (//preload:override, *_static binaries)" if a["static"] else "none (glibc)"),
         os.path.basename(ctx["ids"][a["name"]]["object"]), "`%s`" % ctx["ids"][a["name"]]["info"][:60]]
        for a in ctx["allocs"]]))
    L += ["", "## Method", "",
          "- Build: `bazel build //bench/... //preload:libbrkmalloc.so` with the repository's `.bazelrc` (-O2 -g, "
          "fastbuild mode); binaries copied to a private directory before running.",
          "- Each workload is our own program (bench/*.cc) using plain malloc/free/new; each verifies block contents "
          "and prints a checksum. A run that exits non-zero or whose checksum differs from glibc's is marked BROKEN "
          "and left out of ratios and means.",
          "- %d repetitions, interleaved (A B C ... A B C, the order rotated each repetition), input scale %g. "
          "Figures are medians. Wall time is measured around the process; CPU = user + sys and peak RSS "
          "(ru_maxrss) come from the rusage of `wait4`, taken by the small static launcher bench/spawn.cc (a "
          "child spawned straight from Python would report Python's own ~15 MiB as its peak). A configuration "
          "whose first run takes over %g s and %gx the row's best is not repeated (its cells show n=1)." % (
              mp["reps"], mp["scale"], ctx.get("slow", (5, 8))[0], ctx.get("slow", (5, 8))[1]),
          "- Ratios are to the best allocator in the same row (1.00x = best); the last row is the geometric mean "
          "of each allocator's ratios. Spread = largest (max-min)/median of wall time over the row's allocators.",
          "- Microbenchmarks: Google Benchmark (Debian's 1.7.1, built as debug but only the harness is affected), "
          "`--benchmark_min_time=%s`, ns per operation = 1e9 / items_per_second. `brk-prefixed` calls brk_malloc/"
          "brk_free directly." % mp["micro_min"],
          "- Instructions: `valgrind --tool=callgrind --toggle-collect=run_pairs "
          "--soname-synonyms=somalloc=nouserintercepts` on bench/pairs.cc (64 other 64-byte blocks kept live so "
          "the page never empties, warm-up 1000 pairs, then N); (Ir(N2)-Ir(N1))/(N2-N1) with N1, N2 = %s, so "
          "start-up and first-use costs cancel. The figure includes run_pairs' own loop and call overhead (9 "
          "instructions in this build, the same for every allocator); callgrind does not replace malloc, so the "
          "preloaded allocator's own code is what is counted." % (mp["pairs"],), ""]
    L += ["### Workloads", "", table(["workload", "program", "what it does"],
                                     [[w[0], "`%s %s`" % (w[1], " ".join(w[2])), w[3]] for w in ctx["workloads"]]), ""]
    L += ["## Wall time (median seconds, ratio to best)", "", metric_table(ctx, agg, trat, "wall", lambda v: "%.3f" % v,
                                                                          "geometric mean"), ""]
    L += programs_section(ctx, agg, trat, crat, rrat)
    L += startup_section(ctx)
    L += ["## CPU time, user+sys (median seconds, ratio to best)", "",
          metric_table(ctx, agg, crat, "cpu", lambda v: "%.3f" % v, "geometric mean"), ""]
    L += ["## Peak RSS (median MiB, ratio to leanest)", "",
          metric_table(ctx, agg, rrat, "rss", lambda v: "%.1f" % (v / 1024), "geometric mean"), ""]
    rss_rows = []
    for w in ctx["workloads"]:
        if w[0] not in ("fragmentation", "mleak-idle"):
            continue
        for label, key in (("final", "fin"), ("after idle, no call", "idle")):
            cells = [agg[(w[0], a)][key] if (w[0], a) in agg else None for a in names]
            if any(c is not None for c in cells):
                rss_rows.append(["%s: %s" % (w[0], label)] + ["%.1f" % (c / 1024) if c is not None else "-" for c in cells])
    if rss_rows:
        L += ["## RSS at the end (MiB, from /proc/self/statm inside the program)", "",
              "fragmentation: final = with the surviving 10%% and the medium blocks live. mleak-idle: everything freed, "
              "then %d ms idle; 'after idle, no call' is read before any further allocator call, 'final' after one "
              "more malloc(64)/free (allocators that purge lazily on their next call get that chance)." % mp["idle_ms"],
              "", table(["figure"] + names, rss_rows), ""]
    if ctx["micro"]:
        cfgs = list(ctx["micro"])
        benches = []
        for mm in ctx["micro"].values():
            for b in mm:
                if b != "error" and b not in benches:
                    benches.append(b)
        rows = []
        for b in benches:
            vals = {c: ctx["micro"][c].get(b) for c in cfgs}
            best = min((v for v in vals.values() if v), default=None)
            rows.append([b] + ["%.1f (%.2fx)" % (v, v / best) if v else "-" for v in vals.values()])
        L += ["## Microbenchmarks (ns per operation, ratio to best)", "",
              "BM_pair/N: malloc(N)+free; BM_batch/N: per allocation of 1000 mallocs then 1000 frees; "
              "BM_cross_thread_free/64: allocation by the timed thread, free by a consumer thread (real time; two threads "
              "handing blocks over on 2 shared cores: expect large run-to-run variation in this row). "
              "`--full` reports the median of 3 repetitions.", "",
              table(["benchmark"] + cfgs, rows)]
        errs = ["- %s: %s" % (c, ctx["micro"][c]["error"]) for c in cfgs if "error" in ctx["micro"][c]]
        L += [""] + errs + [""]
    if ctx["callgrind"]:
        L += ["## Instructions per malloc(64)+free pair (callgrind)", "",
              table(["allocator", "instructions per pair", "Ir(N1)", "Ir(N2)"],
                    [[c, "%.1f" % v["ir_per_pair"], v["ir1"], v["ir2"]] if "ir_per_pair" in v else
                     [c, "failed: %s" % v["error"], "", ""] for c, v in ctx["callgrind"].items()]), ""]
    broken = [(k, v["why"]) for k, v in agg.items() if not v["ok"]]
    L += ["## Broken or failed runs", ""] + (["- %s under %s: %s" % (k[0], k[1], why) for k, why in broken] or
                                              ["None: every run exited 0 with glibc's checksum."]) + [""]
    L += ["## Plots", "", perr or "", "![time ratio](time_ratio.png)", "", "![peak RSS](peak_rss.png)", "",
          "![instructions](instructions.png)", "", "![real programs](programs.png)", "",
          "## Known baseline limitations", "",
          "- Debian's jemalloc 5.3 does not export pvalloc (a program calling it crashes under jemalloc); no workload "
          "here calls pvalloc.",
          "- jemalloc returns dirty pages after a decay time of about 10 s by default and mimalloc/tcmalloc keep freed "
          "memory cached, so a 1.5 s idle phase shows little RSS falling for them; glibc only trims the top of its heap.",
          "- Instruction counts say nothing about cache misses or contention; they are for the single-threaded fast "
          "path only.", ""]
    text = "\n".join(L)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    return text, ov
