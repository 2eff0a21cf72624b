/* A plain C program for the static-link tests: linked with libbrkmalloc.a outside Bazel (whole-archive, and
 * fully -static), it calls the malloc.o extras (malloc_trim, mallinfo, mallinfo2, mallopt, malloc_stats,
 * malloc_info), forks and runs a thread (glibc's fork and thread exit call into malloc.o internals), and
 * proves its memory comes from brkmalloc. Prints one line per check; exits non-zero on any failure. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) failures++;
}

static void* thread_main(void* arg) {
  size_t n = (size_t)arg;
  char* p = malloc(n);
  if (p) memset(p, 7, n);
  free(p);
  return p ? arg : NULL;
}

int main(void) {
  static char info[1 << 16];
  FILE* f = fmemopen(info, sizeof info - 1, "w");
  check(f != NULL && malloc_info(0, f) == 0, "malloc_info succeeds");
  if (f) fclose(f);
  const char want[] = "<malloc version=\"brkmalloc-1\">";
  check(strncmp(info, want, sizeof want - 1) == 0, "malloc_info starts with <malloc version=\"brkmalloc-1\">");

  check(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1, "mallopt(M_MMAP_THRESHOLD) accepted");
  struct mallinfo2 before = mallinfo2();
  const size_t big = 3u << 20, count = 5000, each = 200;
  char* large = malloc(big);
  check(large != NULL, "malloc of a large block");
  if (large) memset(large, 1, big);
  static char* small[5000];
  for (size_t i = 0; i < count; i++) {
    small[i] = malloc(each);
    if (small[i]) memset(small[i], 2, each);
  }
  struct mallinfo2 during = mallinfo2();
  printf("mallinfo2 before: hblks=%zu hblkhd=%zu uordblks=%zu; holding: hblks=%zu hblkhd=%zu uordblks=%zu\n",
         before.hblks, before.hblkhd, before.uordblks, during.hblks, during.hblkhd, during.uordblks);
  check(during.hblks == before.hblks + 1, "mallinfo2().hblks counts the large block");
  check(during.hblkhd >= before.hblkhd + big, "mallinfo2().hblkhd covers the large block");
  check(during.uordblks >= before.uordblks + count * each, "mallinfo2().uordblks grew by what was allocated");
  struct mallinfo old = mallinfo();
  check(old.hblks == (int)during.hblks, "mallinfo() agrees with mallinfo2() on hblks");

  pthread_t t;
  void* ret = NULL;
  check(pthread_create(&t, NULL, thread_main, (void*)(size_t)100000) == 0 && pthread_join(t, &ret) == 0 &&
            ret == (void*)(size_t)100000,
        "a thread allocates and exits");
  pid_t pid = fork();
  if (pid == 0) {
    char* p = malloc(12345);
    _exit(p != NULL && malloc_usable_size(p) >= 12345 ? 0 : 1);
  }
  int st = 0;
  check(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "a forked child allocates");

  free(large);
  for (size_t i = 0; i < count; i++) free(small[i]);
  malloc_trim(0);
  struct mallinfo2 after = mallinfo2();
  check(after.hblks == before.hblks, "mallinfo2().hblks back after free");
  check(after.uordblks < during.uordblks, "mallinfo2().uordblks falls after free");
  malloc_stats();  /* to stderr */
  printf("%s\n", failures ? "FAILED" : "PASSED");
  return failures ? 1 : 0;
}
