// Misuse: C++ sized delete with the size of another class (the classic delete-through-base-without-virtual-
// destructor bug, spelled out explicitly so every compiler emits the sized call).
#include <new>
#include "tests/misuse/misuse_common.h"

struct Small {
  char bytes[16];
};
struct Big {
  char bytes[1000];
};

int main() {
  Big* b = new Big;
  memset(b->bytes, 0x66, sizeof b->bytes);
  escape(b->bytes);
  void* p = launder_ptr(static_cast<void*>(b));
  report_addr("addr", p);
  report_size("size", sizeof(Small));
  ::operator delete(p, sizeof(Small));
  report_survived();
  return 0;
}
