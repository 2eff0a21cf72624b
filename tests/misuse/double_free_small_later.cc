// Misuse: a small block freed a second time after other blocks of its size were freed (and one
// allocated) in between, so it is no longer the head of any free list.
#include <stdlib.h>
#include "tests/misuse/misuse_common.h"

int main() {
  char* blocks[8];
  for (int i = 0; i < 8; i++) {
    blocks[i] = static_cast<char*>(malloc(48));
    memset(blocks[i], i, 48);
    escape(blocks[i]);
  }
  char* victim = launder_ptr(blocks[2]);
  char* victim_again = launder_ptr(victim);
  char* other_again = launder_ptr(blocks[6]);
  report_addr("addr", victim);
  free(victim);
  for (int i = 0; i < 8; i++)
    if (i != 2 && i != 6) free(blocks[i]);
  char* fresh = static_cast<char*>(malloc(48));  // takes some freed block, most likely not the victim
  memset(fresh, 0x77, 48);
  escape(fresh);
  if (fresh == victim) {  // the allocator handed the victim out again: free something else twice
    report_line("note", "victim reused; double-freeing blocks[6] after freeing it");
    report_addr("addr", blocks[6]);
    free(blocks[6]);
    free(other_again);
    report_survived();
    return 0;
  }
  free(victim_again);
  report_survived();
  return 0;
}
