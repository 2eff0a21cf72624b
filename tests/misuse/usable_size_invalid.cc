// Misuse: malloc_usable_size() of a pointer never returned by the allocator (a stack buffer).
#include <malloc.h>
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  alignas(64) char buf[512];
  memset(buf, 0, sizeof buf);
  char* p = launder_ptr(buf + 128);
  report_addr("addr", p);
  size_t n = malloc_usable_size(p);
  report_size("returned", n);
  report_survived();
  return buf[0];
}
