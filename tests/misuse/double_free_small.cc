// Misuse: a small block freed twice in a row. brkmalloc must print "double free of <p>" and abort.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  char* p = launder_ptr(static_cast<char*>(malloc(40)));
  memset(p, 0x5a, 40);
  escape(p);
  char* again = launder_ptr(p);  // the same pointer, hidden from the compiler's use-after-free analysis
  report_addr("addr", p);
  free(p);
  free(again);
  report_survived();
  return 0;
}
