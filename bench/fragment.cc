// Fragmentation: fill ~96 MiB with small objects (16..512 bytes), free 90% of them at random, then
// allocate ~36 MiB of medium blocks (1..32 KiB). An allocator that can reuse the holes stays near its
// first peak; one that cannot grows. Figures: peak RSS (the runner's rusage) and final RSS (printed,
// taken while the survivors and the medium blocks are still live).
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  const uint64_t small_bytes = bench::scaled(96u << 20, a), medium_bytes = bench::scaled(36u << 20, a);
  bench::Rng r(31);
  uint64_t sum = 0, bad = 0;
  std::vector<void*> small;
  small.reserve(small_bytes / 200);
  for (uint64_t used = 0; used < small_bytes;) {
    size_t n = r.size_skewed(16, 512);
    small.push_back(bench::make_block(n, r.next(), true));
    used += n;
  }
  long rss_filled = bench::rss_kb();
  size_t kept = 0;
  for (void*& p : small) {
    if (r.below(10) != 0) { sum += bench::take_block(p, &bad); p = nullptr; }
    else small[kept++] = p;
  }
  small.resize(kept);
  long rss_holes = bench::rss_kb();
  std::vector<void*> medium;
  for (uint64_t used = 0; used < medium_bytes;) {
    size_t n = 1024 + r.below(31 * 1024);
    medium.push_back(bench::make_block(n, r.next(), true));
    used += n;
  }
  long rss_final = bench::rss_kb();
  for (void* p : small) sum += bench::take_block(p, &bad);
  for (void* p : medium) sum += bench::take_block(p, &bad);
  printf("rss_filled_kb=%ld\nrss_holes_kb=%ld\nrss_final_kb=%ld\n", rss_filled, rss_holes, rss_final);
  return bench::finish(sum, bad);
}
