"""Start-up section of the comparison: what an allocator costs a program that does almost nothing.
Peak RSS (ru_maxrss from wait4, the figure `/usr/bin/time -f %M` prints, taken by the static bench/spawn
launcher so the launcher's own pages do not count) of /bin/true, /bin/ls /usr/lib and python3 -c pass, and the
cost of posix_spawn+waitpid of a small C and a small C++ program (bench/spawn_cost.cc, mean over a batch).
Runs are interleaved over the allocators (order rotated each repetition); the report gives medians.
System programs cannot link our archive, so brk-static has only the C and C++ rows (their *_static builds)."""
import os
import statistics

import launch

CASES = [  # name, command (binary of the staged dir when it starts with "@"), kind
    ("/bin/true", ["/bin/true"], "rss"),
    ("/bin/ls /usr/lib", ["/bin/ls", "/usr/lib"], "rss"),
    ("python3 -c pass", ["/usr/bin/python3", "-c", "pass"], "rss"),
    ("C program", ["@hello_c"], "rss"),
    ("C++ program", ["@hello_cxx"], "rss"),
    ("spawn C program", ["@hello_c"], "spawn"),
    ("spawn C++ program", ["@hello_cxx"], "spawn"),
]


def command(tmp, cmd, alloc):
    if not cmd[0].startswith("@"):
        return None if alloc["static"] else cmd
    return [os.path.join(tmp, cmd[0][1:] + ("_static" if alloc["static"] else ""))] + cmd[1:]


def run(tmp, spawn, allocs, reps, spawns, prog):
    """Returns {case: {allocator: dict(value=median, unit, n, error)}}."""
    samples = {}
    for rep in range(reps):
        k = rep % len(allocs)
        for a in allocs[k:] + allocs[:k]:
            prog.show("start-up %-12s rep %d/%d" % (a["name"], rep + 1, reps))
            for name, cmd, kind in CASES:
                c = command(tmp, cmd, a)
                if c is None:
                    continue
                cell = samples.setdefault(name, {}).setdefault(a["name"], dict(vals=[], errors=[]))
                if kind == "rss":
                    _, ru, ex, _, _ = launch.run_once(spawn, c, a["preload"], 30)
                    (cell["vals"].append(ru["maxrss_kb"]) if ex == "exit 0" else cell["errors"].append(ex))
                else:
                    _, _, ex, out, err = launch.run_once(
                        spawn, [os.path.join(tmp, "spawn_cost"), str(spawns), a["preload"] or "-"] + c, None, 120)
                    kv = launch.parse_kv(out)
                    if ex == "exit 0" and "us_per_spawn" in kv:
                        cell["vals"].append(float(kv["us_per_spawn"]))
                    else:
                        cell["errors"].append("%s %s" % (ex, err.strip()[-100:]))
            prog.step()
    res = {}
    for name, _, kind in CASES:
        for a, cell in samples.get(name, {}).items():
            res.setdefault(name, {})[a] = dict(
                value=statistics.median(cell["vals"]) if cell["vals"] else None, n=len(cell["vals"]),
                unit="KiB" if kind == "rss" else "us", error="; ".join(sorted(set(cell["errors"]))))
    return res
