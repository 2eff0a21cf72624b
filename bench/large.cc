// malloc-large-like. --mode=realloc: grow one buffer by realloc from 1 byte to 32 MiB in ~12% steps,
// writing all of each new part and checking that old content moved intact. --mode=churn: keep 16 slots of
// blocks of 64 KiB..1 MiB (around and above the 128 KiB mmap threshold), replace them at random and
// touch every page of each new block.
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

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  uint64_t bad = 0, sum;
  if (!strcmp(a.mode, "realloc")) sum = realloc_growth(a, &bad);
  else if (!strcmp(a.mode, "churn")) sum = large_churn(a, &bad);
  else { fprintf(stderr, "--mode=realloc|churn\n"); return 2; }
  return bench::finish(sum, bad);
}
