// Misuse: C23 free_sized() with a size other than the one allocated. free_sized is looked up at run time
// (dlsym, then a weak reference for statically linked programs) so the program also runs under allocators
// without it; then it prints "free_sized=not provided" and exits 0.
#include <dlfcn.h>
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

extern "C" void free_sized(void*, size_t) __attribute__((weak));

int main() {
  using FreeSized = void (*)(void*, size_t);
  FreeSized fn = reinterpret_cast<FreeSized>(dlsym(RTLD_DEFAULT, "free_sized"));
  if (fn == nullptr) fn = free_sized;  // NULL when nothing defines it
  if (fn == nullptr) {
    report_line("free_sized", "not provided");
    return 0;
  }
  report_line("free_sized", "provided");
  const size_t size = 1000, wrong = 24;
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 0x77, size);
  escape(p);
  report_addr("addr", p);
  report_size("size", wrong);
  fn(p, wrong);
  report_survived();
  return 0;
}
