// For instruction counting under callgrind: run_pairs(N) does N malloc(64)+free pairs. main first keeps
// 64 other 64-byte blocks live (so the pair's page never becomes empty: the steady state of a real program,
// not a page being retired on every free), warms up with 1000 pairs, then runs N (argv[1]). The runner
// collects only inside run_pairs (--toggle-collect) for two values of N and takes the difference, so
// start-up and first-use costs cancel out.
#include <cstdio>
#include <cstdlib>

#ifdef BENCH_PREFIXED
#include "allocator/brkmalloc.h"
#define ALLOC brk_malloc
#define FREE brk_free
#else
#define ALLOC malloc
#define FREE free
#endif

extern "C" __attribute__((noinline)) void run_pairs(long n) {
  for (long i = 0; i < n; i++) {
    void* p = ALLOC(64);
    asm volatile("" : : "r"(p) : "memory");
    FREE(p);
  }
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  void* live[64];
  for (void*& p : live) p = ALLOC(64);
  run_pairs(1000);
  run_pairs(n);
  for (void* p : live) FREE(p);
  printf("pairs=%ld\n", n);
  return 0;
}
