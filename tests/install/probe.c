/* A program built against an installed brkmalloc (dynamically, with the archive, or fully static) for
 * tests/install/run.py. Each command prints one line the runner checks:
 *   identify        "allocator=brkmalloc" if malloc_info says brkmalloc serves malloc, else "allocator=other"
 *   place N         "N=arena" or "N=mapped": whether a block of N bytes got a mapping of its own
 *                   (mallinfo2's count of own mappings rises)
 *   after-free N M  frees a block of N bytes (own mapping) first, then places M (glibc's dynamic threshold:
 *                   the free raises it unless a setting fixed it)
 *   uaf             writes into a freed block's free-list link, then allocates again (full checks abort)
 *   env NAME        "NAME=value" or "NAME unset", as the program sees it
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uintptr_t sink;

static int is_brkmalloc(void) {
  char* buf = NULL;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (!f) return 0;
  malloc_info(0, f);
  fclose(f);
  int yes = buf && strstr(buf, "<malloc version=\"brkmalloc-1\">") != NULL;
  free(buf);
  return yes;
}

static const char* place(size_t n) {
  size_t before = mallinfo2().hblks;
  char* p = malloc(n);
  if (!p) return "failed";
  p[0] = 1;
  sink = (uintptr_t)p;
  size_t after = mallinfo2().hblks;
  free(p);
  return after > before ? "mapped" : "arena";
}

int main(int argc, char** argv) {
  if (argc >= 2 && !strcmp(argv[1], "identify")) {
    printf("allocator=%s\n", is_brkmalloc() ? "brkmalloc" : "other");
  } else if (argc >= 3 && !strcmp(argv[1], "place")) {
    size_t n = strtoul(argv[2], NULL, 0);
    printf("%zu=%s\n", n, place(n));
  } else if (argc >= 4 && !strcmp(argv[1], "after-free")) {
    char* big = malloc(strtoul(argv[2], NULL, 0));
    if (!big) return 2;
    big[0] = 1;
    sink = (uintptr_t)big;
    free(big);
    size_t m = strtoul(argv[3], NULL, 0);
    printf("%zu=%s\n", m, place(m));
  } else if (argc >= 2 && !strcmp(argv[1], "uaf")) {
    void** p = malloc(64);
    void** q = malloc(64);
    sink = (uintptr_t)q;
    free(p);
    p[0] = (void*)0x4141414141414141; /* the freed block's link */
    p[1] = (void*)0x4141414141414141;
    sink = (uintptr_t)malloc(64);
    sink = (uintptr_t)malloc(64);
    printf("uaf=undetected\n");
  } else if (argc >= 3 && !strcmp(argv[1], "env")) {
    const char* v = getenv(argv[2]);
    if (v) printf("%s=%s\n", argv[2], v);
    else printf("%s unset\n", argv[2]);
  } else {
    fprintf(stderr, "usage: probe identify | place N | after-free N M | uaf | env NAME\n");
    return 2;
  }
  return 0;
}
