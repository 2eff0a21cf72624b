// Misuse: a 200,000-byte block from aligned operator new (4096) released by the sized, aligned operator
// delete with another alignment (64), as a class with the wrong alignas in its delete would do. The
// pointer is 64-aligned too, so only an allocator that records the alignment can tell.
#include <new>
#include "tests/misuse/misuse_common.h"

int main() {
  const size_t size = 200000;
  void* p = launder_ptr(::operator new(size, std::align_val_t(4096)));
  memset(p, 0x66, size);
  escape(p);
  report_addr("addr", p);
  report_size("align", 64);
  ::operator delete(p, size, std::align_val_t(64));
  report_survived();
  return 0;
}
