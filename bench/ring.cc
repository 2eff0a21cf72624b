// Producer/consumer through a shared ring: each of --threads threads mallocs a 16-512 B block, swaps it
// into a random slot of a 4,096-slot ring shared by all threads and frees the block it took out, so with
// T threads about (T-1)/T of the frees are of another thread's block. Total work is fixed (--threads=16
// on 2 cores does the same work as 2: the oversubscribed variant).
// The checksum sums every block's tag once (each block made is taken out of the ring exactly once, by a
// swap or by the final sweep), so it is the same for any interleaving.
#include <atomic>
#include <thread>
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  constexpr size_t kSlots = 4096;
  const int T = a.threads;
  const uint64_t per_thread = bench::scaled(40000000, a) / T;
  std::vector<std::atomic<void*>> ring(kSlots);
  for (auto& s : ring) s.store(nullptr, std::memory_order_relaxed);
  std::atomic<uint64_t> sum{0}, bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < T; t++) {
    ts.emplace_back([&, t] {
      bench::Rng r(1000 + t);
      uint64_t my_sum = 0, my_bad = 0;
      for (uint64_t i = 0; i < per_thread; i++) {
        void* p = bench::make_block(16 + r.below(497), r.next(), false);
        void* q = ring[r.below(kSlots)].exchange(p, std::memory_order_acq_rel);
        if (q) my_sum += bench::take_block(q, &my_bad);
      }
      sum += my_sum;
      bad += my_bad;
    });
  }
  for (auto& th : ts) th.join();
  uint64_t s = sum.load(), b = bad.load();
  for (auto& slot : ring)
    if (void* q = slot.load()) s += bench::take_block(q, &b);
  return bench::finish(s, b);
}
