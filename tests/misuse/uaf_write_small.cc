// Misuse: a write into a small block after it was freed, before anything reuses it (beyond the first 16
// bytes, where free-list allocators keep their links); then the program keeps allocating that size.
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 64;
  char* dangling = filled_block_freed(size);
  report_addr("addr", dangling);
  dangling[20] = 'X';
  escape(dangling);
  keep_allocating(size, 'b');
  report_survived();
  return 0;
}
