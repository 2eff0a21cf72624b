// Misuse: realloc() of a pointer never returned by the allocator (a global array).
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

alignas(64) char g_buffer[4096];

int main() {
  char* p = launder_ptr(g_buffer + 256);
  report_addr("addr", p);
  void* r = realloc(p, 100);
  report_addr("returned", r);
  report_survived();
  return 0;
}
