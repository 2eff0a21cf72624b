// mleak-like steady state: a churn of short-lived blocks (32 B..16 KiB, some 64..256 KiB) while live
// memory grows slowly (a few blocks per thousand are kept), then everything is freed and the program
// goes idle for --idle-ms (default 1500) without calling the allocator. Prints the RSS after freeing,
// after the idle phase (rss_idle_kb: no allocator call since freeing) and after one more malloc/free
// pair (rss_final_kb: allocators that purge lazily on their next call get that chance).
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  const uint64_t steps = bench::scaled(1500000, a);
  bench::Rng r(123);
  uint64_t sum = 0, bad = 0;
  std::vector<void*> ring(2048, nullptr), kept;
  for (uint64_t i = 0; i < steps; i++) {
    uint32_t c = r.below(1000);
    size_t n = c < 995 ? r.size_skewed(32, 16384) : r.size_skewed(65536, 262144);
    void* p = bench::make_block(n, r.next(), false);
    if (c < 4) { kept.push_back(p); continue; }  // the slow "leak"
    void*& s = ring[r.below((uint32_t)ring.size())];
    if (s) sum += bench::take_block(s, &bad);
    s = p;
  }
  long rss_peak_live = bench::rss_kb();
  for (void*& p : ring) if (p) sum += bench::take_block(p, &bad);
  for (void* p : kept) sum += bench::take_block(p, &bad);
  std::vector<void*>().swap(kept);
  std::vector<void*>().swap(ring);
  long rss_freed = bench::rss_kb();
  bench::sleep_ms(a.idle_ms);
  long rss_idle = bench::rss_kb();
  void* volatile q = malloc(64);
  free(q);
  long rss_final = bench::rss_kb();
  printf("rss_live_kb=%ld\nrss_freed_kb=%ld\nrss_idle_kb=%ld\nrss_final_kb=%ld\n", rss_peak_live, rss_freed,
         rss_idle, rss_final);
  return bench::finish(sum, bad);
}
