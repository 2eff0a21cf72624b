// malloc-large-like. --mode=realloc: grow one buffer by realloc from 1 byte to 32 MiB in ~12% steps,
// writing all of each new part and checking that old content moved intact. --mode=churn: keep 16 slots of
// blocks of 64 KiB..1 MiB (around and above the 128 KiB mmap threshold), replace them at random and
// touch every page of each new block.
// Big-block modes (where an allocator that maps and unmaps every big block pays a page fault per page):
//   --mode=big2m / big8m: malloc(2 MiB or 8 MiB), memset all of it, free, 500 or 120 times.
//   --mode=realloc-mixed: 300 rounds of realloc growth 1 KiB -> 8 MiB, while 16 slots of 64 KiB-1 MiB blocks
//     are replaced between growth steps.
//   --mode=runs-many / runs-one: first ~24,000 blocks of 64-132 KiB (whole pages) are allocated; runs-many frees
//     every other one (about 12,000 separate free runs stay in the arena, pinned by the live ones), runs-one frees
//     them all (one run); then malloc(1 MiB) / malloc(800 KiB), each page touched, free, alternately.
//   --mode=cycle17: malloc, touch every page, free, cycling 17 sizes spaced geometrically from 64 KiB to 1 MiB.
//   --mode=working-set: 20 live blocks of 5-25 MiB; 2,000 times one of them, at random, is replaced by a new
//     block of a random size, zeroed in full, the new one taken before the old one is freed (a working set of
//     300-500 MiB that stays resident unless the allocator gives freed pages back and faults them in again).
//   --mode=idle-1g: one 32 MiB block freed (the mmap threshold rises), then 64 blocks of 16 MiB (1 GiB), each
//     written in full, all freed, then idle: RSS every
//     100 ms for 3 s (rss_curve_kb, ms:KiB pairs), rss_idle_kb after --idle-ms, rss_final_kb after 3 s.
#include <cmath>
#include <vector>

#include "common.h"

static uint64_t realloc_growth(const bench::Args& a, uint64_t* bad) {
  const uint64_t rounds = bench::scaled(2, a);
  const size_t kMax = 32u << 20;
  uint64_t sum = 0;
  for (uint64_t round = 0; round < rounds; round++) {
    unsigned char* p = nullptr;
    size_t have = 0;
    for (size_t n = 1; n <= kMax; n += n / 8 + 1) {
      p = (unsigned char*)realloc(p, n);
      if (!p) { fprintf(stderr, "realloc failed\n"); exit(4); }
      auto pat = [round](size_t k) { return (unsigned char)(k * 7 + round); };
      if (have && (p[0] != pat(0) || p[have - 1] != pat(have - 1) || p[have / 2] != pat(have / 2))) (*bad)++;
      for (size_t k = have; k < n; k++) p[k] = pat(k);  // write all of the new part
      have = n;
      sum += p[n / 2];
    }
    free(p);
  }
  return sum;
}

static uint64_t large_churn(const bench::Args& a, uint64_t* bad) {
  const uint64_t iters = bench::scaled(6000, a);
  constexpr int kSlots = 16;
  void* slot[kSlots] = {};
  bench::Rng r(5);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < iters; i++) {
    void*& s = slot[r.below(kSlots)];
    if (s) sum += bench::take_block(s, bad);
    size_t n = 65536 + r.below((1u << 20) - 65536);  // 64 KiB .. 1 MiB
    unsigned char* p = (unsigned char*)bench::make_block(n, r.next(), false);
    for (size_t k = 4096; k + 8 < n; k += 4096) p[k] = (unsigned char)k;  // touch each page
    s = p;
  }
  for (void* s : slot) if (s) sum += bench::take_block(s, bad);
  return sum;
}

// Makes the compiler keep stores into a block that is freed right after (it may drop them otherwise).
static inline void keep_stores(void* p) { asm volatile("" : : "r"(p) : "memory"); }

static void touch_pages(unsigned char* p, size_t n) {
  for (size_t k = 16; k + 8 < n; k += 4096) p[k] = (unsigned char)k;  // past the tag header
  keep_stores(p);
}

static uint64_t big_loop(const bench::Args& a, size_t n, double base, uint64_t* bad) {
  const uint64_t iters = bench::scaled(base, a);
  bench::Rng r(9);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < iters; i++) {
    unsigned char* p = (unsigned char*)bench::make_block(n, r.next(), true);  // memset of all of it
    keep_stores(p);
    sum += p[n / 2] + bench::take_block(p, bad);
  }
  return sum;
}

static uint64_t realloc_mixed(const bench::Args& a, uint64_t* bad) {
  const uint64_t rounds = bench::scaled(300, a);
  constexpr int kSlots = 16;
  void* slot[kSlots] = {};
  bench::Rng r(11);
  uint64_t sum = 0;
  for (uint64_t round = 0; round < rounds; round++) {
    unsigned char* p = nullptr;
    size_t have = 0;
    for (size_t n = 1024; n <= (8u << 20); n += n / 4) {
      p = (unsigned char*)realloc(p, n);
      if (!p) { fprintf(stderr, "realloc failed\n"); exit(4); }
      unsigned char pat = (unsigned char)round;
      if (have && (p[0] != pat || p[have - 1] != pat)) (*bad)++;
      memset(p + have, pat, n - have);
      keep_stores(p);
      have = n;
      void*& s = slot[r.below(kSlots)];
      if (s) sum += bench::take_block(s, bad);
      size_t m = 65536 + r.below((1u << 20) - 65536);
      s = bench::make_block(m, r.next(), false);
      touch_pages((unsigned char*)s, m);
    }
    sum += have;
    free(p);
  }
  for (void* s : slot) if (s) sum += bench::take_block(s, bad);
  return sum;
}

static uint64_t free_runs(const bench::Args& a, bool many, uint64_t* bad) {
  const uint64_t nblocks = bench::scaled(24000, a), iters = bench::scaled(20000, a);
  bench::Rng r(13);
  std::vector<void*> blocks(nblocks);
  uint64_t sum = 0;
  for (auto& b : blocks) b = bench::make_block((16 + r.below(17)) << 12, r.next(), false);  // 64-132 KiB
  for (size_t i = 0; i < blocks.size(); i++) {
    if (!many || i % 2 == 0) {
      sum += bench::take_block(blocks[i], bad);
      blocks[i] = nullptr;
    }
  }
  for (uint64_t i = 0; i < iters; i++) {
    size_t n = i % 2 ? (800u << 10) : (1u << 20);
    unsigned char* p = (unsigned char*)bench::make_block(n, r.next(), false);
    touch_pages(p, n);
    sum += bench::take_block(p, bad);
  }
  for (void* b : blocks) if (b) sum += bench::take_block(b, bad);
  return sum;
}

static uint64_t cycle17(const bench::Args& a, uint64_t* bad) {
  const uint64_t iters = bench::scaled(20000, a);
  size_t sizes[17];
  for (int k = 0; k < 17; k++) sizes[k] = (size_t)(65536.0 * std::pow(16.0, k / 16.0)) & ~(size_t)15;
  bench::Rng r(17);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < iters; i++) {
    size_t n = sizes[i % 17];
    unsigned char* p = (unsigned char*)bench::make_block(n, r.next(), false);
    touch_pages(p, n);
    sum += bench::take_block(p, bad);
  }
  return sum;
}

static uint64_t working_set(const bench::Args& a, uint64_t* bad) {
  const uint64_t iters = bench::scaled(2000, a);
  constexpr int kSlots = 20;
  unsigned char* slot[kSlots] = {};
  size_t slot_n[kSlots] = {};
  bench::Rng r(19);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < iters; i++) {
    int k = (int)r.below(kSlots);
    size_t n = (5u << 20) + r.below((20u << 20) + 1);
    unsigned char* p = (unsigned char*)malloc(n);
    if (!p) { fprintf(stderr, "malloc(%zu) failed\n", n); exit(4); }
    keep_stores(p);  // (or the compiler turns malloc + memset 0 into calloc, as `new char[n]()` never is)
    memset(p, 0, n);
    p[n - 1] = (unsigned char)i;
    keep_stores(p);
    if (slot[k]) {
      if (slot[k][0] != 0) (*bad)++;
      sum += slot[k][slot_n[k] - 1];
      free(slot[k]);
    }
    slot[k] = p;
    slot_n[k] = n;
  }
  for (int k = 0; k < kSlots; k++) free(slot[k]);
  return sum;
}

static uint64_t idle_1g(const bench::Args& a, uint64_t* bad) {
  constexpr int kBlocks = 64;
  void* blocks[kBlocks];
  bench::Rng r(23);
  uint64_t sum = 0;
  // A program that has freed a big block before: the mmap threshold has risen (as glibc's does), so the
  // 16 MiB blocks come from the heap (arenas), not from mappings of their own that free unmaps at once.
  free(bench::make_block(32u << 20, r.next(), false));
  for (auto& b : blocks) b = bench::make_block(16u << 20, r.next(), true);
  for (auto& b : blocks) sum += bench::take_block(b, bad);
  long idle = -1, curve_end = 3000;
  printf("rss_curve_kb=");
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long ms = 0; ms <= curve_end; ms += 100) {
    for (;;) {  // sleep until t0 + ms
      struct timespec t;
      clock_gettime(CLOCK_MONOTONIC, &t);
      long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
      if (el >= ms) break;
      bench::sleep_ms((int)(ms - el));
    }
    long kb = bench::rss_kb();
    if (ms <= a.idle_ms) idle = kb;
    printf("%s%ld:%ld", ms ? "," : "", ms, kb);
  }
  printf("\nrss_idle_kb=%ld\nrss_final_kb=%ld\n", idle, bench::rss_kb());
  return sum;
}

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  uint64_t bad = 0, sum;
  if (!strcmp(a.mode, "realloc")) sum = realloc_growth(a, &bad);
  else if (!strcmp(a.mode, "churn")) sum = large_churn(a, &bad);
  else if (!strcmp(a.mode, "big2m")) sum = big_loop(a, 2u << 20, 500, &bad);
  else if (!strcmp(a.mode, "big8m")) sum = big_loop(a, 8u << 20, 120, &bad);
  else if (!strcmp(a.mode, "realloc-mixed")) sum = realloc_mixed(a, &bad);
  else if (!strcmp(a.mode, "runs-many")) sum = free_runs(a, true, &bad);
  else if (!strcmp(a.mode, "runs-one")) sum = free_runs(a, false, &bad);
  else if (!strcmp(a.mode, "cycle17")) sum = cycle17(a, &bad);
  else if (!strcmp(a.mode, "working-set")) sum = working_set(a, &bad);
  else if (!strcmp(a.mode, "idle-1g")) sum = idle_1g(a, &bad);
  else {
    fprintf(stderr, "--mode=realloc|churn|big2m|big8m|realloc-mixed|runs-many|runs-one|cycle17|working-set|idle-1g\n");
    return 2;
  }
  return bench::finish(sum, bad);
}
