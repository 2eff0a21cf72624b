// Misuse: use after free. Two small blocks are freed, then the first 16 bytes of the last one freed (where
// a free-list allocator keeps its link) are overwritten; later mallocs of that size must detect the corrupt list.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 48;
  char* a = static_cast<char*>(malloc(size));
  char* b = launder_ptr(static_cast<char*>(malloc(size)));
  memset(a, 1, size);
  escape(a);
  memset(b, 2, size);
  escape(b);
  char* dangling = launder_ptr(b);
  free(a);
  free(b);
  report_addr("addr", dangling);
  // A wild write through the dangling pointer: a plausible-looking but bogus address.
  const uint64_t garbage[2] = {0x00007f4141414140ull, 0x4242424242424242ull};
  memcpy(dangling, garbage, sizeof garbage);
  for (int i = 0; i < 64; i++) {
    char* p = static_cast<char*>(malloc(size));
    if (p != nullptr) {  // a program uses what it gets: write and read whatever the allocator returned
      memset(p, 3, size);
      escape(p);
    }
  }
  report_survived();
  return 0;
}
