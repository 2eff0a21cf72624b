// Misuse: free() of a live small block's address plus one byte.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  char* p = static_cast<char*>(malloc(64));
  memset(p, 0x33, 64);
  escape(p);
  char* q = launder_ptr(p + 1);
  report_addr("addr", q);
  free(q);
  report_survived();
  return 0;
}
