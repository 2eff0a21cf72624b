// Misuse: free() of a 16-byte-aligned pointer into the middle of a live small block (p + 16 of a 64-byte block),
// which is aligned like a real block and so cannot be caught by an alignment test alone.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  char* p = static_cast<char*>(malloc(64));
  memset(p, 0x11, 64);
  escape(p);
  char* q = launder_ptr(p + 16);
  report_addr("addr", q);
  free(q);
  report_survived();
  return 0;
}
