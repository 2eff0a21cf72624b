// libbrkmalloc.so only: finds a libstdc++ that was loaded after us (dlopen'ed by a C program, possibly with
// RTLD_LOCAL, so not in the global scope our weak references were bound in) and one of its symbols. Called
// on operator new's failure path alone (cxx_operators.cc), never at load time. Kept out of the archive: in
// a static program dlopen would pull in the static loader and a link-time warning.
#include <dlfcn.h>

extern "C" __attribute__((visibility("hidden"))) void* brk_late_cxx_symbol(const char* name) {
  // RTLD_NOLOAD: only a copy that is already loaded. The reference it takes is kept on purpose, so the
  // library, and the pointer returned, stay valid.
  void* lib = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD);
  return lib ? dlsym(lib, name) : nullptr;
}
