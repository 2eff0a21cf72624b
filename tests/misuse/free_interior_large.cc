// Misuse: free() of a page-aligned pointer 64 KiB inside a live large block (1 MiB, its own mapping).
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 1024 * 1024;
  char* p = static_cast<char*>(malloc(size));
  memset(p, 0x22, size);
  escape(p);
  char* q = launder_ptr(p + 64 * 1024);
  report_addr("addr", q);
  free(q);
  report_survived();
  return 0;
}
