// Misuse: an 8-byte write (a pointer-sized field) just past the requested end of a 40-byte block, then free.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 40;
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
