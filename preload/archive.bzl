"""cc_archive: one static library holding every object of the given cc_library targets and their deps.

Bazel's own lib<name>.a holds only one target's objects; users of other build systems need them all in
one archive (linked with -Wl,--whole-archive)."""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")

def _cc_archive_impl(ctx):
    objects = []
    seen = {}
    for dep in ctx.attr.deps:
        for linker_input in dep[CcInfo].linking_context.linker_inputs.to_list():
            for lib in linker_input.libraries:
                for obj in (lib.pic_objects or lib.objects or []):
                    if obj.path not in seen:
                        seen[obj.path] = True
                        objects.append(obj)
    toolchain = find_cpp_toolchain(ctx)
    out = ctx.actions.declare_file(ctx.attr.name)
    ctx.actions.run(
        executable = toolchain.ar_executable,
        arguments = ["rcsD", out.path] + [o.path for o in objects],
        inputs = depset(objects, transitive = [toolchain.all_files]),
        outputs = [out],
        mnemonic = "CcArchive",
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

cc_archive = rule(
    implementation = _cc_archive_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo]),
        "_cc_toolchain": attr.label(default = Label("@bazel_tools//tools/cpp:current_cc_toolchain")),
    },
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
    incompatible_use_toolchain_transition = True,
)
