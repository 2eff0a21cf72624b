// Misuse: a write into a small block after it was freed, before anything reuses it (beyond the first 16
// bytes, where free-list allocators keep their links); then the program keeps allocating that size.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 64;
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 'a', size);
  escape(p);
  char* dangling = launder_ptr(p);
  free(p);
  report_addr("addr", dangling);
  dangling[20] = 'X';
  escape(dangling);
  for (int i = 0; i < 2000; i++) {
    char* q = static_cast<char*>(malloc(size));
    if (q) memset(q, 'b', size);
    escape(q);
    free(q);
  }
  report_survived();
  return 0;
}
