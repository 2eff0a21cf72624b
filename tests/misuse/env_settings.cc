// Runs a little allocation work and exits 0; the runner starts it with malformed or unknown BRKMALLOC_*
// settings and checks that the allocator warns once and keeps its default. When brkmalloc is the allocator
// (malloc_info says so), it also checks that the default 128 KiB mmap threshold is really in force:
// a 100 KiB block is small (no new large mapping in mallinfo2) and a 200 KiB block is large (one more),
// checked before any large block is freed.
#include <malloc.h>
#include <stdlib.h>
#include <string>
#include "tests/misuse/misuse_common.h"

static bool allocator_is_brkmalloc() {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f == nullptr) return false;
  malloc_info(0, f);
  fclose(f);
  bool yes = buf != nullptr && strstr(buf, "<malloc version=\"brkmalloc-1\">") != nullptr;
  free(buf);
  return yes;
}

int main() {
  // First, before any large block is freed (a freed mapping raises brkmalloc's dynamic threshold, as
  // glibc's does).
  if (allocator_is_brkmalloc()) {
    report_line("allocator", "brkmalloc");
    size_t before = mallinfo2().hblks;
    void* below = malloc(100 * 1024);
    escape(below);  // keeps the compiler from eliding the malloc/free pair
    size_t after_below = mallinfo2().hblks;
    void* above = malloc(200 * 1024);
    escape(above);
    size_t after_above = mallinfo2().hblks;
    free(below);
    free(above);
    if (after_below != before || after_above != before + 1) {
      report_line("threshold", "NOT the default 131072 (100 KiB or 200 KiB block placed wrongly)");
      return 3;
    }
    report_line("threshold", "default 131072 in force");
  } else {
    report_line("allocator", "other");
  }

  // Ordinary work: small and large blocks, a string, a realloc across the threshold.
  std::string s(1000, 'x');
  void* small[100];
  for (int i = 0; i < 100; i++) {
    small[i] = malloc(16 + i * 8);
    memset(small[i], i, 16 + i * 8);
    escape(small[i]);
  }
  char* r = static_cast<char*>(malloc(100));
  memset(r, 7, 100);
  escape(r);
  r = static_cast<char*>(realloc(r, 300 * 1024));
  if (r == nullptr || r[99] != 7) return 2;
  free(r);
  for (int i = 0; i < 100; i++) free(small[i]);

  report_line("done", s.size() == 1000 ? "1" : "0");
  return 0;
}
