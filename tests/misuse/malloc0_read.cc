// Misuse: a read through the pointer malloc(0) returned (it owns no byte).
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  volatile char* p = launder_ptr(static_cast<char*>(malloc(0)));
  report_addr("addr", (const void*)p);
  char c = p[0];
  report_line("read", c ? "nonzero" : "zero");
  free((void*)p);
  report_survived();
  return 0;
}
