/* A program with known allocation sites for the heap-profiler test (run.py): each site_* function
 * allocates a known number of bytes; keep_a, keep_b, keep_big and grow (realloc, 64 bytes up to about
 * 4 KB in steps) are live at the mid-run profile and freed
 * before exit, site_leak is never freed (the planted leak), site_temp frees every block at once.
 * It prints what each site holds ("live <site> <bytes>", "freed <site> <bytes>"), so the test compares
 * the profile with what was allocated, not with numbers typed into the test.
 * Usage: sites PROFILE_PATH   (writes the mid-run profile there with brk_prof_dump, if profiling is on) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int brk_prof_dump(const char* path) __attribute__((weak));

enum { kA = 12000, kSizeA = 700, kB = 1200, kSizeB = 5000, kBig = 16, kSizeBig = 300000,
       kLeak = 3000, kSizeLeak = 2000, kTemp = 20000, kSizeTemp = 1500, kGrow = 2000 };
static void* keep_a[kA];
static void* keep_b[kB];
static void* keep_big[kBig];
static void* grown[kGrow];
void* volatile leaked[kLeak];

/* Each site uses its block after malloc returns, so the call is never a tail call (its frame stays). */
__attribute__((noinline)) size_t site_keep_a(void) {
  for (int i = 0; i < kA; ++i) { keep_a[i] = malloc(kSizeA); memset(keep_a[i], 1, kSizeA); }
  return (size_t)kA * kSizeA;
}
__attribute__((noinline)) size_t site_keep_b(void) {
  for (int i = 0; i < kB; ++i) { keep_b[i] = calloc(1, kSizeB); ((char*)keep_b[i])[0] = 1; }
  return (size_t)kB * kSizeB;
}
__attribute__((noinline)) size_t site_keep_big(void) {
  for (int i = 0; i < kBig; ++i) { keep_big[i] = malloc(kSizeBig); memset(keep_big[i], 2, 4096); }
  return (size_t)kBig * kSizeBig;
}
__attribute__((noinline)) size_t site_grow(void) {
  size_t total = 0;
  for (int i = 0; i < kGrow; ++i) {
    char* p = NULL;
    size_t n = 0;
    for (n = 64; n + 300 <= 4000; n += 300) { p = realloc(p, n); memset(p, 5, n); }
    grown[i] = p;
    total += n - 300;
  }
  return total;
}
__attribute__((noinline)) size_t site_leak(void) {
  for (int i = 0; i < kLeak; ++i) { leaked[i] = malloc(kSizeLeak); memset(leaked[i], 3, 64); }
  return (size_t)kLeak * kSizeLeak;
}
__attribute__((noinline)) size_t site_temp(void) {
  for (int i = 0; i < kTemp; ++i) {
    char* volatile p = malloc(kSizeTemp);
    p[0] = 4;
    free(p);
  }
  return (size_t)kTemp * kSizeTemp;
}

int main(int argc, char** argv) {
  if (argc != 2) { fprintf(stderr, "usage: sites PROFILE_PATH\n"); return 2; }
  size_t a = site_keep_a(), b = site_keep_b(), big = site_keep_big(), grow = site_grow(), leak = site_leak(),
         temp = site_temp();
  printf("live site_keep_a %zu\nlive site_keep_b %zu\nlive site_keep_big %zu\nlive site_grow %zu\nlive site_leak %zu\n"
         "freed site_temp %zu\n", a, b, big, grow, leak, temp);
  /* Linked statically the weak reference is ours; preloaded, the .so exports it. */
  int (*dump)(const char*) = brk_prof_dump ? brk_prof_dump : (int (*)(const char*))dlsym(RTLD_DEFAULT, "brk_prof_dump");
  if (dump) {
    int rc = dump(argv[1]);
    printf("dump %d %s\n", rc, rc ? strerror(errno) : "ok");
  } else {
    printf("dump none\n");
  }
  fflush(stdout);
  for (int i = 0; i < kA; ++i) free(keep_a[i]);
  for (int i = 0; i < kB; ++i) free(keep_b[i]);
  for (int i = 0; i < kBig; ++i) free(keep_big[i]);
  for (int i = 0; i < kGrow; ++i) free(grown[i]);
  return 0;
}
