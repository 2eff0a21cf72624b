"""Runs one measured command through bench/spawn (a small static launcher: see spawn.cc for why the peak RSS
must not be taken from Python's own child) and reads back its wall time, CPU time, peak RSS and exit status.
Shared by bench/run.py, bench/programs.py, bench/startup.py and tests/stress/run.py."""
import os
import subprocess
import tempfile


def parse_kv(text):
    kv = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.replace("_", "").isalnum():
            kv[k] = v.strip()
    return kv


def clean_env(extra=None):
    """The runner's environment without any allocator setting of its own, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRKMALLOC_")}
    for k in ("LD_PRELOAD", "LD_DEBUG", "LD_DEBUG_OUTPUT", "PYTHONMALLOC"):
        env.pop(k, None)
    env.update(extra or {})
    return env


def describe(status):
    if os.WIFSIGNALED(status):
        return "signal %d" % os.WTERMSIG(status)
    return "exit %d" % os.WEXITSTATUS(status)


def run_once(spawn, cmd, preload, timeout, env=None, cwd=None):
    """Runs cmd under preload (None: no LD_PRELOAD); returns wall seconds, dict(user, sys, maxrss_kb), exit
    description ("exit 0", "signal 11", "spawn failed"), stdout and stderr text."""
    env = clean_env(env)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", prefix="spawn.") as res:
        subprocess.run([spawn, res.name, str(int(timeout)), preload or "-"] + cmd, env=env, stdout=out, stderr=err,
                       cwd=cwd)
        out.seek(0)
        err.seek(0)
        text, etext = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        kv = parse_kv(res.read())
    return result_of(kv, text, etext)


def result_of(kv, text, etext):
    if "status" not in kv:
        return 0.0, dict(user=0.0, sys=0.0, maxrss_kb=0), "spawn failed", text, etext
    return float(kv["wall"]), dict(user=float(kv["user"]), sys=float(kv["sys"]), maxrss_kb=int(kv["maxrss_kb"])), \
        describe(int(kv["status"])), text, etext


def find_spawn(root):
    """bench/spawn from the default configuration's outputs (for callers that stage nothing)."""
    for d in ("bazel-out/k8-fastbuild/bin", "bazel-bin"):
        p = os.path.join(root, d, "bench/spawn")
        if os.path.exists(p):
            return p
    return None
