"""stress_program: one stress program as a plain binary (allocator chosen by LD_PRELOAD) and a static variant
that links brkmalloc's override (//preload:override) into the program."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def stress_program(name, srcs = None):
    srcs = srcs or [name + ".cc"]
    cc_binary(
        name = name,
        srcs = srcs,
        deps = [":stress_common"],
        linkopts = ["-lpthread", "-ldl"],
    )
    cc_binary(
        name = name + "_static",
        srcs = srcs,
        deps = [":stress_common", "//preload:override"],
        linkopts = ["-lpthread", "-ldl"],
        tags = ["no_sanitizer"],
    )

def stress_prefixed_test(name, args, size = "medium"):
    """The same source built against brkmalloc's prefixed API (brk_malloc, ...), run by `bazel test`,
    including under --config=asan and --config=tsan."""
    cc_test(
        name = name + "_prefixed_test",
        srcs = [name + ".cc"],
        copts = ["-DSTRESS_PREFIXED"],
        deps = [":stress_common_prefixed", "//allocator:core"],
        linkopts = ["-lpthread"],
        args = args,
        size = size,
    )
