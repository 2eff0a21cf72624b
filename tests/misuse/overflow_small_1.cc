// Misuse: an off-by-one write (the NUL of a string one byte too long) just past the requested end of a
// 37-byte block, inside its size class's slack, then free.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 37;
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 'a', size);
  report_addr("addr", p);
  p[size] = 0;
  escape(p);
  free(p);
  report_survived();
  return 0;
}
