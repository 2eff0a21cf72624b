// Misuse: a write through the pointer malloc(0) returned (it owns no byte).
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  volatile char* p = launder_ptr(static_cast<char*>(malloc(0)));
  report_addr("addr", (const void*)p);
  p[0] = 'x';
  free((void*)p);
  report_survived();
  return 0;
}
