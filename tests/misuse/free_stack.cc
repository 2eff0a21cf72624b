// Misuse: free() of a pointer into the stack.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  alignas(64) char buf[256];
  memset(buf, 1, sizeof buf);
  char* p = launder_ptr(buf + 64);
  report_addr("addr", p);
  free(p);
  report_survived();
  return buf[0] == 1 ? 0 : 1;
}
