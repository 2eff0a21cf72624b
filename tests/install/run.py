#!/usr/bin/env python3
"""Install test: scripts/install.sh into a temporary prefix, then, with nothing but the installed files and
pkg-config (PKG_CONFIG_PATH), build probe.c dynamically, with the archive (-Wl,--whole-archive from
pkg-config --static) and fully -static, and app.cc with CMake (pkg_check_modules); prove each runs on
brkmalloc (malloc_info). Then the installed `brkmalloc` command (exit status, signals, exec, LD_PRELOAD kept,
options reaching the program), glibc's malloc settings end to end (each knob's documented effect, precedence,
a malformed value reported once, secure mode for a set-user-ID program run as nobody), a second install, and
--uninstall leaving nothing behind. Each check is one JUnit test case (--xml); exits 0 iff all pass."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SMALL = 100 * 1024  # below the default 128 KiB threshold
MID = 200 * 1024    # above it: its own mapping by default
BIG = 300 * 1024


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("BRKMALLOC_", "MALLOC_")) or k in ("GLIBC_TUNABLES", "LD_PRELOAD",
                                                                     "LD_LIBRARY_PATH", "PKG_CONFIG_PATH"))}
    env.update(extra)
    return env


def run(cmd, env=None, cwd=None, timeout=300):
    cmd = [str(c) for c in cmd]
    return subprocess.run(cmd, env=env if env is not None else clean_env(), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def ok(cmd, **kw):
    r = run(cmd, **kw)
    check(r.returncode == 0, "%s exited %d\nstdout: %s\nstderr: %s" % (" ".join(map(str, cmd)), r.returncode,
                                                                        r.stdout[-2000:], r.stderr[-2000:]))
    return r


class Suite:
    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.prefix = self.tmp / "prefix"
        self.lib = self.prefix / "lib"
        self.cmd = self.prefix / "bin" / "brkmalloc"
        self.results = []
        self.installed = False

    def pc_env(self, **extra):
        return clean_env(PKG_CONFIG_PATH=str(self.lib / "pkgconfig"), **extra)

    def pkg(self, *args):
        return ok(["pkg-config", *args, "brkmalloc"], env=self.pc_env()).stdout.split()

    def dyn_env(self, **extra):  # runs the dynamically linked probe on the installed .so
        return clean_env(LD_LIBRARY_PATH=str(self.lib), **extra)

    def probe(self, binary, *args, env=None):
        return ok([str(self.tmp / binary), *map(str, args)], env=env or self.dyn_env())

    def case(self, name, fn):
        try:
            fn()
            self.results.append((name, None))
            print("PASS", name)
        except Failure as e:
            self.results.append((name, str(e)))
            print("FAIL", name, "\n   ", str(e).replace("\n", "\n    "))
        except (subprocess.SubprocessError, OSError) as e:
            self.results.append((name, "%s: %s" % (type(e).__name__, e)))
            print("FAIL", name, e)

    # ---- install and build against it ----

    def install(self):
        ok([str(REPO / "scripts/install.sh"), "--prefix", str(self.prefix)], timeout=1200)
        for rel in ["lib/libbrkmalloc.so", "lib/libbrkmalloc.a", "include/brkmalloc.h",
                    "lib/pkgconfig/brkmalloc.pc", "bin/brkmalloc"]:
            check((self.prefix / rel).is_file(), "%s not installed" % rel)
        check(os.access(self.cmd, os.X_OK), "bin/brkmalloc not executable")
        self.installed = True

    def build_dynamic(self):
        check(self.installed, "not installed")
        flags = self.pkg("--cflags", "--libs")
        ok(["cc", "-o", str(self.tmp / "probe_dyn"), str(HERE / "probe.c"), *flags])
        needed = ok(["readelf", "-d", str(self.tmp / "probe_dyn")]).stdout
        check("[libbrkmalloc.so]" in needed, "probe_dyn does not need libbrkmalloc.so:\n" + needed)
        out = self.probe("probe_dyn", "identify").stdout
        check("allocator=brkmalloc" in out, "dynamic probe not on brkmalloc: " + out)
        # Control: without the library on the path it does not start, so the check above saw the shipped .so.
        r = run([str(self.tmp / "probe_dyn"), "identify"], env=clean_env())
        check(r.returncode != 0, "probe_dyn ran without the installed library")
        # The same program linked with nothing of ours, for the brkmalloc command; on glibc by itself.
        ok(["cc", "-o", str(self.tmp / "probe_plain"), str(HERE / "probe.c")])
        out = self.probe("probe_plain", "identify", env=clean_env()).stdout
        check("allocator=other" in out, "the plain probe claims brkmalloc without it: " + out)

    def build_archive(self):
        check(self.installed, "not installed")
        flags = self.pkg("--static", "--libs")
        check("-Wl,--push-state,--whole-archive" in flags, "no whole-archive flags in %s" % flags)
        exe = self.tmp / "probe_archive"
        # -Bstatic: -lbrkmalloc is the archive (the default would pick the .so); libc stays dynamic.
        ok(["cc", "-o", str(exe), str(HERE / "probe.c"), *self.pkg("--cflags"), "-Wl,-Bstatic", *flags,
            "-Wl,-Bdynamic"])
        needed = ok(["readelf", "-d", str(exe)]).stdout
        check("libbrkmalloc" not in needed and "[libc.so.6]" in needed, "unexpected dependencies:\n" + needed)
        out = self.probe("probe_archive", "identify", env=clean_env()).stdout
        check("allocator=brkmalloc" in out, "archive probe not on brkmalloc: " + out)

    def build_full_static(self):
        check(self.installed, "not installed")
        exe = self.tmp / "probe_static"
        ok(["cc", "-static", "-o", str(exe), str(HERE / "probe.c"), *self.pkg("--cflags"),
            *self.pkg("--static", "--libs")])
        check("(NEEDED)" not in ok(["readelf", "-d", str(exe)]).stdout, "probe_static has dynamic dependencies")
        out = self.probe("probe_static", "identify", env=clean_env()).stdout
        check("allocator=brkmalloc" in out, "static probe not on brkmalloc: " + out)

    def private_libs_needed(self):
        """Libs.private lists exactly what the archive needs: each entry is required for a -static link."""
        check(self.installed, "not installed")
        libs = self.pkg("--libs")
        private = [f for f in self.pkg("--static", "--libs") if f not in libs]
        # Strong references only: weak ones bind to the program's own libstdc++ when it has one.
        undefined = "\n".join(l for l in ok(["nm", "-u", str(self.lib / "libbrkmalloc.a")]).stdout.splitlines()
                              if l.split()[:1] == ["U"])
        uses_cxx_runtime = re.search(r"\b(__cxa_\w+|__gxx_personality_v0)\b", undefined) is not None
        check(("-lstdc++" in private) == uses_cxx_runtime,
              "Libs.private %s, archive uses the C++ runtime: %s" % (private, uses_cxx_runtime))
        for f in private:
            rest = [g for g in private if g != f]
            r = run(["cc", "-static", "-o", str(self.tmp / "probe_missing"), str(HERE / "probe.c"), *libs, *rest])
            check(r.returncode != 0, "a -static link without %s succeeded: it need not be listed" % f)

    def cmake(self):
        check(self.installed, "not installed")
        build = self.tmp / "cmake-build"
        ok(["cmake", "-S", str(HERE), "-B", str(build)], env=self.pc_env())
        ok(["cmake", "--build", str(build)], env=self.pc_env())
        out = ok([str(build / "app")], env=clean_env()).stdout  # CMake records the library's directory
        check("allocator=brkmalloc" in out, "CMake-built app not on brkmalloc: " + out)

    # ---- the brkmalloc command ----

    def launcher_version_help(self):
        r = ok([str(self.cmd), "--version"])
        check(re.match(r"brkmalloc \d+\.\d+\.\d+ \(%s\)" % re.escape(str(self.lib / "libbrkmalloc.so")),
                       r.stdout), "--version printed: " + r.stdout)
        h = ok([str(self.cmd), "--help"]).stdout
        for word in ["--stats", "--threshold", "--purge-delay", "--checks", "BRKMALLOC_MMAP_THRESHOLD"]:
            check(word in h, "--help does not mention " + word)
        r = run([str(self.cmd), "--no-such-option", "true"])
        check(r.returncode == 125 and "unknown option" in r.stderr, "bad option: %d %s" % (r.returncode, r.stderr))

    def launcher_runs_on_brkmalloc(self):
        out = ok([str(self.cmd), "sh", "-c", 'cat /proc/$$/maps; echo "ppid=$PPID"']).stdout
        check(str(self.lib / "libbrkmalloc.so") in out, "libbrkmalloc.so not mapped in the program")
        # exec, no fork: the program's parent is whoever ran the command.
        check("ppid=%d" % os.getpid() in out, "the program is not the command's own process")
        out = ok([str(self.cmd), "--", str(self.tmp / "probe_plain"), "identify"], env=clean_env()).stdout
        check("allocator=brkmalloc" in out, out)

    def launcher_exit_status_and_signal(self):
        r = run([str(self.cmd), "sh", "-c", "exit 42"])
        check(r.returncode == 42, "exit status %d, want 42" % r.returncode)
        r = run([str(self.cmd), "sh", "-c", "kill -TERM $$"])
        check(r.returncode == -15, "returncode %d, want death by SIGTERM (-15)" % r.returncode)
        r = run([str(self.cmd), str(self.tmp / "no-such-program")])
        check(r.returncode == 127, "missing program: %d" % r.returncode)

    def launcher_keeps_ld_preload(self):
        user = "/lib/x86_64-linux-gnu/libdl.so.2"  # any harmless library the user preloads
        out = ok([str(self.cmd), "sh", "-c", 'echo "preload=$LD_PRELOAD"; cat /proc/$$/maps'],
                 env=clean_env(LD_PRELOAD=user)).stdout
        check("preload=%s:%s" % (self.lib / "libbrkmalloc.so", user) in out, "LD_PRELOAD not kept: " + out[:300])
        check("libdl.so.2" in out and "libbrkmalloc.so" in out, "both libraries not mapped")

    def launcher_options(self):
        b = [str(self.cmd)]
        probe = str(self.tmp / "probe_plain")
        env = clean_env()
        r = ok(b + ["--stats", probe, "identify"], env=env)
        check("brkmalloc statistics" in r.stderr, "--stats printed nothing")
        check("brkmalloc statistics" not in ok(b + [probe, "identify"], env=env).stderr, "stats without --stats")
        check("%d=arena" % SMALL in ok(b + [probe, "place", SMALL], env=env).stdout, "default threshold")
        check("%d=mapped" % SMALL in ok(b + ["--threshold", "64K", probe, "place", SMALL], env=env).stdout,
              "--threshold 64K did not give a 100 KiB block its own mapping")
        check("%d=mapped" % SMALL in ok(b + ["--threshold=64K", probe, "place", SMALL], env=env).stdout,
              "--threshold=64K")
        out = ok(b + ["--purge-delay", "0", probe, "env", "BRKMALLOC_PURGE_DELAY_MS"], env=env).stdout
        check("BRKMALLOC_PURGE_DELAY_MS=0" in out, out)
        r = run(b + ["--checks", "full", probe, "uaf"], env=env)
        check(r.returncode == -6 and "free list corrupted" in r.stderr,
              "--checks full missed a free-list write: %d %s" % (r.returncode, r.stderr))
        r = run(b + ["--checks", "paranoid", "true"], env=env)
        check(r.returncode == 125, "--checks paranoid accepted")

    def launcher_from_build_tree(self):
        """Without installing: dist/brkmalloc.sh finds bazel-bin/preload/libbrkmalloc.so, bazel-bin/brkmalloc
        (the //:brkmalloc target, as bazel run runs it) its runfiles. scripts/test.sh built both."""
        built = (REPO / "bazel-bin/preload/libbrkmalloc.so").resolve()
        for cmd, want in [(REPO / "dist/brkmalloc.sh", built),
                          (REPO / "bazel-bin/brkmalloc", "brkmalloc.runfiles/brkmalloc/preload/libbrkmalloc.so")]:
            r = ok([cmd, "sh", "-c", 'echo "preload=$LD_PRELOAD"'])
            line = r.stdout.strip()
            check(line.startswith("preload=/") and line.endswith(str(want)), "%s preloads %s" % (cmd, line))
            check(Path(line[len("preload="):]).is_file(), "%s: %s is not a file" % (cmd, line))
            out = ok([cmd, "--threshold", "64K", self.tmp / "probe_plain", "place", SMALL]).stdout
            check("%d=mapped" % SMALL in out, "%s: not on brkmalloc with the option: %s" % (cmd, out))

    # ---- glibc's settings, end to end through the installed .so ----

    def place(self, n, **env):
        return self.probe("probe_dyn", "place", n, env=self.dyn_env(**env)).stdout.strip().split("=")[1]

    def settings_mmap_threshold(self):
        check(self.place(MID) == "mapped", "default: a 200 KiB block should have its own mapping")
        check(self.place(MID, MALLOC_MMAP_THRESHOLD_="1048576") == "arena", "MALLOC_MMAP_THRESHOLD_ ignored")
        check(self.place(MID, GLIBC_TUNABLES="glibc.malloc.mmap_threshold=1048576") == "arena",
              "glibc.malloc.mmap_threshold ignored")
        check(self.place(SMALL, MALLOC_MMAP_THRESHOLD_="65536") == "mapped", "a lower threshold ignored")

    def settings_precedence(self):
        both = dict(MALLOC_MMAP_THRESHOLD_="1048576", GLIBC_TUNABLES="glibc.malloc.mmap_threshold=65536")
        check(self.place(SMALL, **both) == "mapped", "GLIBC_TUNABLES should win over MALLOC_MMAP_THRESHOLD_")
        check(self.place(SMALL, BRKMALLOC_MMAP_THRESHOLD="1M", **both) == "arena",
              "BRKMALLOC_MMAP_THRESHOLD should win over both")

    def settings_agree_with_glibc(self):
        """glibc itself is the oracle: each setting moves a block in or out of the heap the same way under
        glibc (probe_plain, no preload) and brkmalloc (probe_dyn): names, number forms, precedence (tunables
        over the older variables in either order, later tunables entries over earlier ones), mmap_max, and
        the knobs that stop the dynamic threshold."""
        A, B = "1048576", "131072"  # a threshold above MID and one below it
        T = "GLIBC_TUNABLES"
        cases = [
            ("place", MID, []),
            ("place", MID, [("MALLOC_MMAP_THRESHOLD_", A)]),
            ("place", MID, [(T, "glibc.malloc.mmap_threshold=" + A)]),
            ("place", MID, [("MALLOC_MMAP_THRESHOLD_", A), (T, "glibc.malloc.mmap_threshold=" + B)]),
            ("place", MID, [(T, "glibc.malloc.mmap_threshold=" + B), ("MALLOC_MMAP_THRESHOLD_", A)]),
            ("place", MID, [("MALLOC_MMAP_THRESHOLD_", B), (T, "glibc.malloc.mmap_threshold=" + A)]),
            ("place", MID, [(T, "glibc.malloc.mmap_threshold=%s:glibc.malloc.mmap_threshold=%s" % (A, B))]),
            ("place", MID, [(T, "glibc.malloc.mmap_threshold=%s:glibc.malloc.mmap_threshold=%s" % (B, A))]),
            ("place", MID, [(T, "glibc.cpu.x86_rep_movsb_threshold=1:glibc.malloc.mmap_threshold=" + A)]),
            ("place", MID, [("MALLOC_MMAP_THRESHOLD_", "0x100000")]),
            ("place", MID, [("MALLOC_MMAP_THRESHOLD_", "0400000")]),   # octal 131072, not 400000
            ("place", MID, [("MALLOC_MMAP_THRESHOLD_", "04000000")]),  # octal 1 MiB
            ("place", MID, [("MALLOC_MMAP_THRESHOLD_", " +1048576")]),
            ("place", MID, [("MALLOC_MMAP_THRESHOLD_", "-1")]),        # SIZE_MAX
            ("place", 1 << 20, []),
            ("place", 1 << 20, [("MALLOC_MMAP_MAX_", "0")]),
            ("place", 1 << 20, [(T, "glibc.malloc.mmap_max=0")]),
            ("after-free", None, []),
            ("after-free", None, [("MALLOC_TOP_PAD_", "0")]),
            ("after-free", None, [("MALLOC_TRIM_THRESHOLD_", "131072")]),
            ("after-free", None, [("MALLOC_MMAP_MAX_", "65536")]),
            ("after-free", None, [(T, "glibc.malloc.top_pad=4096")]),
            ("after-free", None, [("MALLOC_PERTURB_", "0"), ("MALLOC_ARENA_MAX", "1")]),
        ]
        seen = set()
        for what, n, pairs in cases:
            args = ["place", n] if what == "place" else ["after-free", BIG, MID]
            env_i = ["env", "-i"] + ["%s=%s" % kv for kv in pairs]  # env -i keeps this order in environ
            g = ok(env_i + [self.tmp / "probe_plain", *args]).stdout.strip()
            b = ok(env_i + ["LD_LIBRARY_PATH=%s" % self.lib, self.tmp / "probe_dyn", *args]).stdout.strip()
            check(g == b, "%s %s: glibc says %s, brkmalloc %s" % (pairs, args, g, b))
            seen.add(g.split("=")[1])
        check(seen == {"arena", "mapped"}, "the cases do not tell the two outcomes apart: %s" % seen)

    def settings_mmap_max(self):
        check(self.place(1 << 20) == "mapped", "default: a 1 MiB block should have its own mapping")
        check(self.place(1 << 20, MALLOC_MMAP_MAX_="0") == "arena", "MALLOC_MMAP_MAX_=0 still mapped")
        check(self.place(1 << 20, GLIBC_TUNABLES="glibc.malloc.mmap_max=0") == "arena", "mmap_max=0 mapped")

    def settings_fix_dynamic_threshold(self):
        def after_free(**env):
            out = self.probe("probe_dyn", "after-free", BIG, MID, env=self.dyn_env(**env)).stdout
            return out.strip().split("=")[1]
        check(after_free() == "arena", "default: freeing a 300 KiB mapping should raise the threshold")
        for env in [dict(MALLOC_TOP_PAD_="0"), dict(MALLOC_TRIM_THRESHOLD_="131072"),
                    dict(MALLOC_MMAP_MAX_="65536"), dict(GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072")]:
            check(after_free(**env) == "mapped", "%s did not fix the threshold (glibc: no dynamic rise)" % env)

    def settings_check(self):
        for env in [dict(GLIBC_TUNABLES="glibc.malloc.check=3"), dict(MALLOC_CHECK_="3")]:
            r = run([str(self.tmp / "probe_dyn"), "uaf"], env=self.dyn_env(**env))
            check(r.returncode == -6 and "free list corrupted" in r.stderr, "%s: no full checks (%d %s)" %
                  (env, r.returncode, r.stderr))
        r = run([str(self.tmp / "probe_dyn"), "uaf"], env=self.dyn_env())
        check("free list corrupted" not in r.stderr, "full checks on by default")

    def settings_malformed_and_ignored(self):
        for env in [dict(MALLOC_PERTURB_="abc"), dict(MALLOC_TOP_PAD_="1M"),
                    dict(GLIBC_TUNABLES="glibc.malloc.mmap_threshold=lots")]:
            r = ok([str(self.tmp / "probe_dyn"), "place", MID], env=self.dyn_env(**env))
            lines = [l for l in r.stderr.splitlines() if l.startswith("brkmalloc: ignoring")]
            check(len(lines) == 1, "%s: want one warning, got %r" % (env, r.stderr))
            check("%d=mapped" % MID in r.stdout, "%s: the default threshold did not stay" % env)
        for env in [dict(MALLOC_ARENA_MAX="1", MALLOC_ARENA_TEST="1"),
                    dict(GLIBC_TUNABLES="glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0:glibc.rtld.nns=4")]:
            r = ok([str(self.tmp / "probe_dyn"), "identify"], env=self.dyn_env(**env))
            check(r.stderr == "", "%s should be accepted silently: %r" % (env, r.stderr))

    def settings_secure_mode(self):
        """A set-user-ID program run by nobody ignores every setting (AT_SECURE), as glibc does."""
        d = self.tmp / "suid"
        d.mkdir()
        os.chmod(self.tmp, 0o755)
        os.chmod(d, 0o755)
        plain, suid = d / "probe_plain", d / "probe_suid"
        shutil.copy(self.tmp / "probe_static", plain)
        shutil.copy(self.tmp / "probe_static", suid)
        os.chown(suid, 0, 0)
        os.chmod(suid, 0o4755)
        os.chmod(plain, 0o755)
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        env = clean_env(BRKMALLOC_STATS="1", MALLOC_MMAP_THRESHOLD_="1048576")
        r = ok(as_nobody + [str(plain), "place", MID], env=env)  # control: the settings work for nobody
        check("brkmalloc statistics" in r.stderr and "%d=arena" % MID in r.stdout,
              "control run ignored the settings: %r %r" % (r.stdout, r.stderr))
        r = ok(as_nobody + [str(suid), "place", MID], env=env)
        check("brkmalloc statistics" not in r.stderr, "set-user-ID program printed statistics")
        check("%d=mapped" % MID in r.stdout, "set-user-ID program honoured MALLOC_MMAP_THRESHOLD_")
        # glibc does the same with its own setting: a set-user-ID static glibc program ignores it.
        glibc_suid = d / "glibc_suid"
        ok(["cc", "-static", "-o", str(glibc_suid), str(HERE / "probe.c")])
        check("%d=arena" % MID in ok(as_nobody + [glibc_suid, "place", MID], env=env).stdout,
              "control: glibc ignores MALLOC_MMAP_THRESHOLD_ even without set-user-ID")
        os.chmod(glibc_suid, 0o4755)
        check("%d=mapped" % MID in ok(as_nobody + [glibc_suid, "place", MID], env=env).stdout,
              "glibc honoured MALLOC_MMAP_THRESHOLD_ in a set-user-ID program: our rule would differ")

    # ---- again, and away ----

    def install_again(self):
        check(self.installed, "not installed")
        manifest = self.prefix / "share/brkmalloc/install-manifest"
        before = manifest.read_text()
        self.install()
        check(manifest.read_text() == before, "a second install changed the manifest")
        out = self.probe("probe_dyn", "identify").stdout
        check("allocator=brkmalloc" in out, out)

    def uninstall(self):
        check(self.installed, "not installed")
        ok([str(REPO / "scripts/install.sh"), "--uninstall", "--prefix", str(self.prefix)])
        left = [str(p) for p in self.prefix.rglob("*")] if self.prefix.exists() else []
        check(not self.prefix.exists(), "left behind: %s" % (left or [str(self.prefix)]))
        r = run([str(REPO / "scripts/install.sh"), "--uninstall", "--prefix", str(self.prefix)])
        check(r.returncode != 0, "a second uninstall claimed success")

    def uninstall_keeps_others_files(self):
        """An existing prefix: only our files go; the prefix's own directories and files stay."""
        other = self.tmp / "shared-prefix"
        (other / "lib").mkdir(parents=True)
        (other / "lib" / "theirs.so").write_text("not ours\n")
        ok([str(REPO / "scripts/install.sh"), "--prefix", str(other)], timeout=1200)
        ok([str(REPO / "scripts/install.sh"), "--uninstall", "--prefix", str(other)])
        left = sorted(str(p.relative_to(other)) for p in other.rglob("*"))
        check(left == ["lib", "lib/theirs.so"], "after uninstall: %s" % left)

    def destdir(self):
        stage = self.tmp / "stage"
        env = clean_env(DESTDIR=str(stage))
        ok([str(REPO / "scripts/install.sh"), "--prefix", "/opt/brk"], env=env, timeout=1200)
        pc = (stage / "opt/brk/lib/pkgconfig/brkmalloc.pc").read_text()
        check("prefix=/opt/brk\n" in pc, "the .pc file should name the final prefix, not the stage")
        check("/opt/brk/lib/libbrkmalloc.so" in (stage / "opt/brk/bin/brkmalloc").read_text(), "launcher path")
        ok([str(REPO / "scripts/install.sh"), "--uninstall", "--prefix", "/opt/brk"], env=env)
        check(not (stage / "opt").exists(), "staged files left: %s" % list(stage.rglob("*")))


def write_xml(path, results):
    suite = ET.Element("testsuite", name="install", tests=str(len(results)),
                       failures=str(sum(1 for _, e in results if e)))
    for name, err in results:
        case = ET.SubElement(suite, "testcase", classname="install", name=name)
        if err:
            ET.SubElement(case, "failure", message=err.splitlines()[0][:200]).text = err
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--xml", help="write JUnit XML here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="brk-install-") as tmp:
        s = Suite(tmp)
        for name in ["install", "build_dynamic", "build_archive", "build_full_static", "private_libs_needed",
                     "cmake", "launcher_version_help", "launcher_runs_on_brkmalloc",
                     "launcher_exit_status_and_signal", "launcher_keeps_ld_preload", "launcher_options", "launcher_from_build_tree",
                     "settings_mmap_threshold", "settings_precedence", "settings_agree_with_glibc", "settings_mmap_max",
                     "settings_fix_dynamic_threshold", "settings_check", "settings_malformed_and_ignored",
                     "settings_secure_mode", "install_again", "uninstall", "uninstall_keeps_others_files",
                     "destdir"]:
            s.case(name, getattr(s, name))
        results = s.results
    if args.xml:
        write_xml(args.xml, results)
    failed = sum(1 for _, e in results if e)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
