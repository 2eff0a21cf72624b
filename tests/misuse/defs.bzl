"""misuse_program: one misuse program built twice, plain (for LD_PRELOAD runs) and statically linked with brkmalloc."""

def misuse_program(name, srcs = None, linkopts = []):
    """Declares <name> (plain malloc, for the preloaded .so and the baselines) and <name>_static (brkmalloc linked in)."""
    srcs = srcs or [name + ".cc"]
    native.cc_binary(
        name = name,
        srcs = srcs + ["misuse_common.h"],
        linkopts = linkopts,
        tags = ["no_sanitizer"],
    )
    native.cc_binary(
        name = name + "_static",
        srcs = srcs + ["misuse_common.h"],
        linkopts = linkopts,
        tags = ["no_sanitizer"],
        deps = ["//preload:override"],
    )
