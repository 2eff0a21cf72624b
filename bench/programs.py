"""Real-program drivers for bench/run.py (and the stress runner's short checks): Redis, RocksDB's db_bench,
SQLite, CPython, g++, xz and git gc, each run under an allocator preloaded with LD_PRELOAD.

Every driver returns one measured run as a dict with the keys bench/run.py's rows use (wall_s, user_s, sys_s,
peak_rss_kb, exit, checksum, stderr) plus figures (the program's own throughput numbers) and proof (which
library `malloc` was bound to, from the dynamic loader's LD_DEBUG=bindings output of every process of the run).
A run counts as good only if the program succeeded by its own test (exit 0, its success lines present, its
self-check passed: `exit` is then "exit 0") and, in the report, its `checksum` (the part of the output that
must not depend on the allocator) equals glibc's. A program that is not installed gives a row whose exit says
"missing: ..." (never dropped).

The glibc configuration preloads libc.so.6 itself: Debian's redis-server is linked with libjemalloc, so
without a preload it would run on jemalloc. The proof shows that this works (malloc bound to libc.so.6).
Redis's `INFO memory` field mem_allocator is no proof: it is compiled in and says jemalloc-5.3.0 under
every preload.
"""
import glob
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import launch

GLIBC_SO = "/lib/x86_64-linux-gnu/libc.so.6"
HERE = os.path.dirname(os.path.abspath(__file__))
BIND_RE = re.compile(r"binding file (\S+) \[\d+\] to (\S+) \[\d+\]: normal symbol `malloc'")


def preload_for(alloc):
    """The LD_PRELOAD a real program gets in this configuration (None: it cannot run the program)."""
    if alloc.get("static"):
        return None
    return alloc["preload"] or GLIBC_SO


_DEFINES = {}


def defines_malloc(path):
    """Whether the object really defines malloc. A non-PIE executable that takes malloc's address (Debian's
    python3) gets bindings "to /usr/bin/python3" for its canonical PLT entry, an undefined symbol that itself
    binds to the real malloc: such a binding says nothing about the allocator."""
    if path not in _DEFINES:
        r = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True)
        _DEFINES[path] = r.returncode != 0 or re.search(r" [TtWi] malloc(@|$)", r.stdout, re.M) is not None
    return _DEFINES[path]


def bindings_proof(dbg_dir, expected):
    """Reads LD_DEBUG=bindings files (one per process); every malloc binding (to an object that defines
    malloc) must go to `expected`."""
    want = os.path.realpath(expected)
    targets, procs, bound = {}, 0, 0
    for f in glob.glob(os.path.join(dbg_dir, "ld.*")):
        procs += 1
        seen = False
        with open(f, errors="replace") as fh:
            for line in fh:
                m = BIND_RE.search(line)
                if m:
                    t = os.path.realpath(m.group(2))
                    if t != want and not defines_malloc(t):
                        continue
                    seen = True
                    targets[t] = targets.get(t, 0) + 1
        bound += seen
    ok = bound > 0 and set(targets) == {want}
    text = "malloc -> %s in %d of %d processes" % (
        ", ".join(sorted(os.path.basename(t) for t in targets)) or "nothing", bound, procs)
    return dict(ok=ok, text=text)


def debug_env(dbg_dir, extra=None):
    env = {"LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": os.path.join(dbg_dir, "ld")}
    env.update(extra or {})
    return env


def row(wall, ru, ex, check, stderr="", figures=None, proof=None):
    return dict(wall_s=round(wall, 4), user_s=round(ru["user"], 4), sys_s=round(ru["sys"], 4),
                peak_rss_kb=ru["maxrss_kb"], exit=ex, checksum=check, stderr=stderr.strip()[-200:],
                figures=figures or {}, proof=proof or {})


def failed_row(why):
    return row(0.0, dict(user=0.0, sys=0.0, maxrss_kb=0), why, "")


class Program:
    """One real program: name, what it does, the executables it needs; prepare() makes the inputs all
    allocators share (untimed), run() is one measured run under one preload."""
    name, what, needs = "", "", []

    def missing(self):
        gone = [n for n in self.needs if not shutil.which(n) and not os.path.exists(n)]
        return ("missing: " + ", ".join(gone) + " (scripts/setup.sh installs it)") if gone else None

    def prepare(self, work, scale):
        self.work, self.scale = work, scale

    def timed(self, spawn, cmd, preload, timeout, env=None, cwd=None):
        """One measured command with the bindings proof; returns (wall, ru, ex, out, err, proof)."""
        dbg = tempfile.mkdtemp(prefix="ld.", dir=self.work)
        try:
            wall, ru, ex, out, err = launch.run_once(spawn, cmd, preload, timeout, debug_env(dbg, env), cwd)
            proof = bindings_proof(dbg, preload)
        finally:
            shutil.rmtree(dbg, ignore_errors=True)
        return wall, ru, ex, out, err, proof


def sha16(data):
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()[:16]


class Redis(Program):
    name = "redis"
    what = ("redis-server (no persistence, 127.0.0.1, private port) loaded by redis-benchmark -P 16: set/get/lpush, "
            "lrange_100/300, 4 KiB set; then a Lua self-check of 4000 keys; server CPU and peak RSS")
    needs = ["redis-server", "redis-benchmark", "redis-cli"]
    CHECK_KEYS = 4000
    LUA = ("local bad, len = 0, 0 "
           "for i = 1, %d do redis.call('SET', 'chk:' .. i, string.rep(string.char(97 + i %% 26), (i * 37) %% 5000)) end "
           "for i = 1, %d do local v = redis.call('GET', 'chk:' .. i) "
           "if v ~= string.rep(string.char(97 + i %% 26), (i * 37) %% 5000) then bad = bad + 1 end len = len + #v end "
           "return {len, bad}")

    def cli(self, port, *args, timeout=60):
        return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port)] + list(args), capture_output=True,
                              text=True, timeout=timeout, env=launch.clean_env())

    def run(self, spawn, preload, timeout=300):
        with socket.socket() as s:  # a free loopback port of our own
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        n = max(200, int(150000 * self.scale))
        dbg = tempfile.mkdtemp(prefix="ld.", dir=self.work)
        res = os.path.join(dbg, "spawn.result")
        log = os.path.join(dbg, "redis.log")
        server = subprocess.Popen(
            [spawn, res, str(int(timeout)), preload, "redis-server", "--bind", "127.0.0.1", "--port", str(port),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes", "--dir", dbg,
             "--logfile", log], env=launch.clean_env(debug_env(dbg)), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(dbg, "stderr"), "wb"))
        pid, err, figures, check, bench_wall = None, "", {}, "", 0.0
        try:
            for _ in range(200):  # wait until it answers (10 s)
                if server.poll() is not None:
                    break
                r = self.cli(port, "ping", timeout=5)
                if r.stdout.strip() == "PONG":
                    pid = int(re.search(r"process_id:(\d+)", self.cli(port, "info", "server").stdout).group(1))
                    break
                time.sleep(0.05)
            if pid is None:
                tail = open(log).read()[-300:] if os.path.exists(log) else ""
                with open(os.path.join(dbg, "stderr"), errors="replace") as f:
                    return failed_row("failed to start: " + (tail or f.read()[-300:]))
            runs = [["-r", "1000000", "-n", str(n), "-P", "16", "-t", "set,get,lpush"],
                    ["-r", "1000000", "-n", str(max(50, n // 20)), "-P", "16", "-t", "lrange_100,lrange_300"],
                    ["-r", "100000", "-n", str(max(100, n // 8)), "-P", "16", "-d", "4096", "-t", "set"]]
            for i, args in enumerate(runs):
                t0 = time.monotonic()
                b = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "--csv"] + args,
                                   capture_output=True, text=True, timeout=timeout, env=launch.clean_env())
                bench_wall += time.monotonic() - t0
                for m in re.finditer(r'^"([A-Z_0-9]+)[^"]*","([0-9.]+)"', b.stdout, re.M):
                    if not m.group(0).startswith('"LPUSH (needed'):
                        figures["%s%s req/s" % (m.group(1), " 4KiB" if i == 2 else "")] = float(m.group(2))
                if b.returncode:
                    err += "redis-benchmark %s: exit %d %s" % (" ".join(args), b.returncode, b.stderr[-200:])
            lua = self.LUA % (self.CHECK_KEYS, self.CHECK_KEYS)
            r = self.cli(port, "eval", lua, "0")
            check = "lua=%s tests=%d" % ("/".join(r.stdout.split()), len(figures))
            expected_len = sum((i * 37) % 5000 for i in range(1, self.CHECK_KEYS + 1))
            if r.stdout.split() != [str(expected_len), "0"]:
                err += " Lua self-check wrong: %r (want %d 0)" % (r.stdout.strip(), expected_len)
            if len(figures) != 6:
                err += " expected 6 benchmark results, got %s" % sorted(figures)
            self.cli(port, "shutdown", "nosave")
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                err += " did not stop after SHUTDOWN NOSAVE (killed)"
        finally:
            if server.poll() is None:
                if pid:
                    os.kill(pid, signal.SIGKILL)  # the server's own PID, never a name
                else:  # PID not known yet: bench/spawn's alarm handler kills its child (the server) by PID
                    server.send_signal(signal.SIGALRM)
                server.wait()
            kv = launch.parse_kv(open(res).read()) if os.path.exists(res) else {}
            proof = bindings_proof(dbg, preload)
            shutil.rmtree(dbg, ignore_errors=True)
        _, ru, ex, _, _ = launch.result_of(kv, "", "")
        if ex == "exit 0" and err:
            ex = "failed:" + err[:150]
        # wall = the benchmark clients' time; CPU and peak RSS are the server's (rusage after it exits)
        return row(bench_wall, ru, ex, check, err, figures, proof)


class RocksDB(Program):
    name = "rocksdb"
    what = "db_bench fillrandom,readrandom,overwrite, 2 threads, fresh database directory each run"
    needs = ["db_bench"]

    def run(self, spawn, preload, timeout=300):
        db = tempfile.mkdtemp(prefix="rocksdb.", dir=self.work)  # a fresh directory each run
        shutil.rmtree(db)
        n = max(1000, int(50000 * self.scale))
        wall, ru, ex, out, err, proof = self.timed(spawn, [
            "db_bench", "--benchmarks=fillrandom,readrandom,overwrite", "--num=%d" % n, "--threads=2",
            "--db=" + db, "--seed=42", "--progress_reports=false", "--compression_type=none"], preload, timeout)
        shutil.rmtree(db, ignore_errors=True)
        figures = {}
        for m in re.finditer(r"^(\w+)\s*:\s*[0-9.]+ micros/op (\d+) ops/sec", out, re.M):
            figures[m.group(1) + " ops/s"] = float(m.group(2))
        found = re.search(r"\((\d+) of (\d+) found\)", out)
        check = "found=%s/%s" % found.groups() if found else ""
        if ex == "exit 0" and (len(figures) != 3 or not found):
            ex = "failed: db_bench printed %d of 3 results%s" % (len(figures), "" if found else ", no found count")
        return row(wall, ru, ex, check, err, figures, proof)


class SQLite(Program):
    name = "sqlite"
    what = "sqlite3 :memory: building, indexing, updating, deleting rows, aggregate queries (bench/real/sqlite_work.sql)"
    needs = ["sqlite3"]
    SCRIPT = os.path.join(HERE, "real/sqlite_work.sql")

    def run(self, spawn, preload, timeout=300):
        n = max(500, int(60000 * self.scale))
        wall, ru, ex, out, err, proof = self.timed(
            spawn, ["sqlite3", ":memory:", ".parameter set @n %d" % n, ".read " + self.SCRIPT], preload, timeout)
        lines = out.splitlines()
        if ex == "exit 0" and (not lines or lines[-1] != "ok" or err.strip()):
            ex = "failed: no final 'ok' line" if not lines or lines[-1] != "ok" else "failed: " + err.strip()[:100]
        return row(wall, ru, ex, "%d lines %s" % (len(lines), sha16(out)), err, {}, proof)


class Python(Program):
    name = "cpython"
    what = "/usr/bin/python3 with PYTHONMALLOC=malloc: dicts, lists, strings, small objects built and dropped (bench/real/objects.py)"
    needs = ["/usr/bin/python3"]
    SCRIPT = os.path.join(HERE, "real/objects.py")

    def run(self, spawn, preload, timeout=300):
        wall, ru, ex, out, err, proof = self.timed(
            spawn, ["/usr/bin/python3", self.SCRIPT, "%g" % self.scale], preload, timeout, {"PYTHONMALLOC": "malloc"})
        m = re.search(r"^checksum=(\S+)", out, re.M)
        if ex == "exit 0" and not m:
            ex = "failed: no checksum line"
        return row(wall, ru, ex, m.group(1) if m else "", err, {}, proof)


class Compiler(Program):
    name = "g++"
    what = "g++ -O2 -std=c++17 -c of a generated unit (std headers, std::map and std::sort instantiations); object bytes compared"
    needs = ["g++"]

    def prepare(self, work, scale):
        super().prepare(work, scale)
        self.src = os.path.join(work, "unit.cc")
        with open(self.src, "w") as f:
            f.write(generated_unit(max(1, int(round(2 * scale)))))

    def run(self, spawn, preload, timeout=300):
        out_dir = tempfile.mkdtemp(prefix="gxx.", dir=self.work)  # runs may overlap (stress --jobs)
        obj = os.path.join(out_dir, "unit.o")
        wall, ru, ex, out, err, proof = self.timed(
            spawn, ["g++", "-O2", "-std=c++17", "-c", self.src, "-o", obj], preload, timeout)
        check = ""
        if os.path.exists(obj):
            with open(obj, "rb") as f:
                check = "object " + sha16(f.read())
        elif ex == "exit 0":
            ex = "failed: no object file"
        shutil.rmtree(out_dir, ignore_errors=True)
        return row(wall, ru, ex, check, err, {}, proof)


def generated_unit(k):
    """A translation unit for the compiler row: the <map>/<string>/<vector>/<algorithm> headers (most of the
    front end's allocations) and k structs, each instantiating std::map and std::sort for the optimiser."""
    lines = ["// generated by bench/programs.py: compiler workload"] + [
        "#include <%s>" % h for h in ("algorithm", "map", "string", "vector")]
    for i in range(k):
        lines.append("""
struct S{i} {{ int a; std::string b; bool operator<(const S{i}& o) const {{ return a < o.a || (a == o.a && b < o.b); }} }};
std::string f{i}(int n) {{
  std::map<S{i}, std::vector<int>> m;
  for (int i = 0; i < n; i++) m[S{i}{{i % {m}, std::to_string(i)}}].push_back(i);
  std::vector<S{i}> vs;
  for (auto& [key, v] : m) vs.push_back(key);
  std::sort(vs.begin(), vs.end());
  std::string r;
  for (auto& s : vs) r += s.b;
  return r;
}}""".format(i=i, m=i % 7 + 3))
    return "\n".join(lines) + "\n"


class Xz(Program):
    name = "xz"
    what = "xz -T2 -1 (2 MiB blocks) of a generated 6 MiB text file and decompression, round trip checked by SHA-256"
    needs = ["xz", "sh", "sha256sum"]

    def prepare(self, work, scale):
        super().prepare(work, scale)
        self.src = os.path.join(work, "xz-input.txt")
        lines, size, i = [], 0, 0
        target = max(256 << 10, int((6 << 20) * scale))
        while size < target:  # compressible but not trivially: words from a varying mix of numbers
            ln = "%d line %x %s %d\n" % (i, (i * 2654435761) & 0xffffffff, "ab" * (i % 17), (i * 7919) % 100003)
            lines.append(ln)
            size += len(ln)
            i += 1
        data = "".join(lines).encode()
        with open(self.src, "wb") as f:
            f.write(data)
        self.sha = hashlib.sha256(data).hexdigest()

    def run(self, spawn, preload, timeout=300):
        out_dir = tempfile.mkdtemp(prefix="xz.", dir=self.work)
        xzf = os.path.join(out_dir, "output.xz")
        script = 'xz -T2 -1 --block-size=2MiB -c "$1" > "$2" && xz -T2 -d -c "$2" | sha256sum && wc -c < "$2"'
        wall, ru, ex, out, err, proof = self.timed(spawn, ["sh", "-c", script, "sh", self.src, xzf], preload, timeout)
        words = out.split()
        if ex == "exit 0" and (not words or words[0] != self.sha):
            ex = "failed: round trip SHA-256 differs from the input's"
        shutil.rmtree(out_dir, ignore_errors=True)
        return row(wall, ru, ex, "%s %s bytes" % (words[0][:16], words[-1]) if len(words) >= 3 else "", err, {},
                   proof)


class Git(Program):
    name = "git-gc"
    what = ("git gc (2 pack threads, delta search) of a generated repository (fast-import: commits editing 60 "
            "files), then git fsck --full and the object list hashed")
    needs = ["git", "sh", "sha256sum"]

    def prepare(self, work, scale):
        super().prepare(work, scale)
        self.repo = os.path.join(work, "git-origin")
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", self.repo], check=True, env=launch.clean_env())
        commits, files, out = max(20, int(2000 * scale)), 60, []
        text = {f: ["line %d of file %d\n" % (k, f) for k in range(80)] for f in range(files)}
        for c in range(1, commits + 1):
            out.append("commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.invalid> %d +0000\n"
                       % (c, 1700000000 + c))
            msg = "commit %d\n" % c
            out.append("data %d\n%s" % (len(msg), msg) + ("from :%d\n" % (c - 1) if c > 1 else ""))
            for k in range(5):  # each commit edits 5 files: deltas for gc to find
                f = (c * 7 + k * 13) % files
                text[f].insert((c * 31 + k) % len(text[f]), "edit %d/%d %s\n" % (c, k, "x" * ((c + k) % 50)))
                body = "".join(text[f])
                out.append("M 100644 inline dir%d/file%d.txt\ndata %d\n%s\n" % (f % 6, f, len(body), body))
        subprocess.run(["git", "-C", self.repo, "fast-import", "--quiet"], input="".join(out).encode(), check=True,
                       env=launch.clean_env())

    def run(self, spawn, preload, timeout=300):
        d = tempfile.mkdtemp(prefix="git.", dir=self.work)
        repo = os.path.join(d, "repo.git")
        shutil.copytree(self.repo, repo)  # untimed: every run packs the same loose repository
        script = ('git -C "$1" -c gc.auto=0 -c pack.threads=2 gc --quiet --prune=now && git -C "$1" fsck --full '
                  '--no-progress && git -C "$1" rev-list --objects --all | sha256sum')
        wall, ru, ex, out, err, proof = self.timed(spawn, ["sh", "-c", script, "sh", repo], preload, timeout)
        shutil.rmtree(d, ignore_errors=True)
        words = out.split()
        if ex == "exit 0" and (len(words) < 2 or err.strip()):
            ex = "failed: %s" % (err.strip()[:100] or "no object list")
        return row(wall, ru, ex, "objects " + words[0][:16] if words else "", err, {}, proof)


def measured(p, spawn, preload, timeout=300):
    """One run of program p; a run whose proof shows another allocator than `preload` is a failed run."""
    r = p.run(spawn, preload, timeout)
    if r["exit"] == "exit 0" and not r["proof"].get("ok"):
        r["exit"] = "wrong allocator: " + r["proof"].get("text", "no LD_DEBUG output")
    return r


PROGRAMS = [Redis(), RocksDB(), SQLite(), Python(), Compiler(), Xz(), Git()]
BY_NAME = {p.name: p for p in PROGRAMS}
