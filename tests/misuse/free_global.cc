// Misuse: free() of a pointer to a global (static storage) array.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

alignas(64) char g_buffer[4096];

int main() {
  char* p = launder_ptr(g_buffer + 128);
  report_addr("addr", p);
  free(p);
  report_survived();
  return 0;
}
