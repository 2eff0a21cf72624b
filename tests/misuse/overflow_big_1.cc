// Misuse: an off-by-one NUL write just past the requested end of a 200,000-byte block (its own mapping,
// above the 128 KiB threshold), then free.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 200000;
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 'a', size);
  report_addr("addr", p);
  p[size] = 0;
  escape(p);
  free(p);
  report_survived();
  return 0;
}
