// Misuse: free() of memory the program mapped itself with mmap (never returned by any allocator).
#include <stdlib.h>
#include <sys/mman.h>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 256 * 1024;
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 2;
  char* p = static_cast<char*>(m);
  memset(p, 0x44, size);
  escape(p);
  char* q = launder_ptr(p + 4096);
  report_addr("addr", q);
  free(q);
  report_survived();
  return 0;
}
