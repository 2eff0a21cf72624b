/* For cxx_new_test.sh's dlopen mode: a C program, with no libstdc++ loaded when it starts (so brkmalloc's
 * weak references to libstdc++ are bound to null), that loads the C++ checks of cxx_new_prog.cc with
 * dlopen(RTLD_NOW | RTLD_LOCAL), as Python loads an extension module, and runs them. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  int (*run)(void) = (int (*)(void))dlsym(lib, "cxx_new_checks");
  if (!run) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 2;
  }
  return run();
}
