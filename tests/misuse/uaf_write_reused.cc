// Misuse: a small block freed, a block of the same size allocated (most allocators hand the same one back
// at once), then a write through the old, dangling pointer; the program keeps allocating that size.
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 64;
  char* dangling = filled_block_freed(size);
  char* q = launder_ptr(static_cast<char*>(malloc(size)));
  memset(q, 'b', size);
  escape(q);
  report_line("reused", q == dangling ? "1" : "0");
  report_addr("addr", dangling);
  memcpy(dangling + 24, "dangling", 8);
  escape(dangling);
  keep_allocating(size, 'c');
  free(q);
  report_survived();
  return 0;
}
