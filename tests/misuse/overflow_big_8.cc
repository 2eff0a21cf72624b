// Misuse: an 8-byte write just past the requested end of a big block whose size (50 pages minus 8 bytes)
// leaves no slack before a page boundary, then free.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 50 * 4096 - 8;
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 'a', size);
  report_addr("addr", p);
  const uint64_t word = 0x4141414141414141ull;
  memcpy(p + size, &word, sizeof word);
  escape(p);
  free(p);
  report_survived();
  return 0;
}
