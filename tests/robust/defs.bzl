"""robust_program: one robustness program built plain (allocator chosen by LD_PRELOAD) and as <name>_static
(brkmalloc's //preload:override linked in)."""

load("@rules_cc//cc:defs.bzl", "cc_binary")

# The programs call malloc with impossible sizes and drop blocks on purpose: keep GCC from folding or
# warning about those calls (and about reading a block after a realloc that had to fail).
ROBUST_COPTS = ["-fno-builtin", "-Wno-alloc-size-larger-than", "-Wno-unused-result", "-Wno-use-after-free"]

def robust_program(name, srcs = None, copts = []):
    srcs = srcs or [name + ".cc"]
    for suffix, deps in [("", []), ("_static", ["//preload:override"])]:
        cc_binary(
            name = name + suffix,
            srcs = srcs + ["robust_common.h"],
            copts = ROBUST_COPTS + copts,
            linkopts = ["-lpthread"],
            tags = ["no_sanitizer"],
            deps = deps,
        )
