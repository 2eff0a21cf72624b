// Misuse: a small block freed, a block of the same size allocated (most allocators hand the same one back
// at once), then a write through the old, dangling pointer; the program keeps allocating that size.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 64;
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 'a', size);
  escape(p);
  char* dangling = launder_ptr(p);
  free(p);
  char* q = launder_ptr(static_cast<char*>(malloc(size)));
  memset(q, 'b', size);
  escape(q);
  report_line("reused", q == dangling ? "1" : "0");
  report_addr("addr", dangling);
  memcpy(dangling + 24, "dangling", 8);
  escape(dangling);
  for (int i = 0; i < 2000; i++) {
    char* r = static_cast<char*>(malloc(size));
    if (r) memset(r, 'c', size);
    escape(r);
    free(r);
  }
  free(q);
  report_survived();
  return 0;
}
