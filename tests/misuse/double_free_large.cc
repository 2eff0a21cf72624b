// Misuse: a large block (above the 128 KiB threshold, its own mapping) freed twice.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 512 * 1024;
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 0x5a, size);
  escape(p);
  char* again = launder_ptr(p);  // the same pointer, hidden from the compiler's use-after-free analysis
  report_addr("addr", p);
  free(p);
  free(again);
  report_survived();
  return 0;
}
