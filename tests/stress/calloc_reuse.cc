// calloc_reuse: memory handed back by free must come out of calloc zeroed. Rounds of: allocate blocks of
// assorted sizes (1 B .. 1 MiB, including across the 128 KiB threshold), fill them with non-zero bytes, free
// them (random order), then calloc the same sizes (as count x size splits) and assert every byte is zero;
// every few rounds with a malloc_trim(0) in between (freshly purged pages must read as zero too). Two threads
// run at once. Also calloc overflow: count * size beyond SIZE_MAX gives NULL, and with --strict (brkmalloc, glibc)
// errno ENOMEM (Debian's mimalloc 2.0.9 and tcmalloc 2.10 leave errno alone).
#include <stdint.h>

#include <thread>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

void rounds(int t, size_t nrounds, size_t nblocks, std::atomic<uint64_t>* checked) {
  Rng r(g_opt.seed * 1299709 + (uint64_t)t);
  uint64_t bytes = 0;
  std::vector<void*> ps(nblocks);
  std::vector<size_t> ns(nblocks);
  for (size_t round = 0; round < nrounds; round++) {
    for (size_t i = 0; i < nblocks; i++) {
      ns[i] = r.below(200) == 0 ? (size_t)r.logrange(100 * 1024, 1 << 20) : mixed_size(r, 1 << 20);
      ps[i] = S_MALLOC(ns[i]);
      if (!ps[i]) fail("malloc(%zu) returned NULL", ns[i]);
      memset(ps[i], 0xA5 ^ (int)(i & 0x3F), ns[i]);
    }
    std::vector<size_t> order(nblocks);
    for (size_t i = 0; i < nblocks; i++) order[i] = i;
    for (size_t i = nblocks; i > 1; i--) std::swap(order[i - 1], order[r.below(i)]);
    for (size_t i : order) S_FREE(ps[i]);
    if (round % 4 == 3) S_TRIM();
    for (size_t i = 0; i < nblocks; i++) {
      size_t n = ns[i], count = 1, size = n;
      // Split n into count x size where possible, so calloc's multiplication is exercised.
      for (size_t d : {7u, 5u, 3u, 2u})
        if (n % d == 0 && r.chance(50)) {
          count = d;
          size = n / d;
          break;
        }
      ps[i] = S_CALLOC(count, size);
      if (!ps[i]) fail("calloc(%zu, %zu) returned NULL", count, size);
      check_zero(ps[i], n, "calloc after free of a dirty block");
      bytes += n;
      memset(ps[i], 0x5A, n);  // dirty again for the next round
    }
    for (size_t i : order) S_FREE(ps[i]);
  }
  checked->fetch_add(bytes);
}

void overflow() {
  const size_t big[][2] = {{SIZE_MAX / 2 + 1, 2}, {SIZE_MAX, SIZE_MAX}, {(size_t)1 << 33, (size_t)1 << 33}};
  for (auto& c : big) {
    errno = 0;
    void* p = S_CALLOC(c[0], c[1]);
    if (p) fail("calloc(%zu, %zu) = %p: expected NULL (overflow)", c[0], c[1], p);
    if (g_opt.strict && errno != ENOMEM) fail("calloc(%zu, %zu) overflow: errno %d, expected ENOMEM", c[0], c[1], errno);
  }
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("calloc_reuse", argc, argv);
  size_t threads = thread_knob(2, 2), nrounds = knob(8, 2000), nblocks = knob(2000, 6000);
  note("%zu threads x %zu rounds x %zu blocks", threads, nrounds, nblocks);
  overflow();
  std::atomic<uint64_t> checked{0};
  std::vector<std::thread> ts;
  for (size_t i = 0; i < threads; i++) ts.emplace_back(rounds, (int)i, nrounds, nblocks, &checked);
  for (auto& t : ts) t.join();
  note("PASS: %.0f MiB of calloc'd memory checked zero", mib(checked.load()));
  return 0;
}
