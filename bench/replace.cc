// Random replacement of live small objects (16-256 B), the pattern of a cache or an object graph in
// steady state. --mode=local: one thread replaces random slots of 100,000 live blocks.
// --mode=remote: two threads share one array of 100,000 slots; each slot records which thread allocated
// its block, and a thread only replaces slots holding the OTHER thread's block, so every free is remote.
// Invariant for --mode=remote: each thread makes exactly `rounds` replacements. A replacement by thread t
// turns an other-thread slot into a t-slot, so the other thread's slot count is K/2 - r_t + r_other: a
// thread that runs K/2 replacements ahead waits (yields) for the other, and never runs out for good
// (when the other has finished, at least as many of its slots remain as this thread still needs).
// The checksum sums every block's tag, an order-independent value, so it is the same for any interleaving.
#include <sched.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common.h"

namespace {
constexpr size_t kSlots = 100000;

uint64_t local(const bench::Args& a, uint64_t* bad) {
  const uint64_t rounds = bench::scaled(2000000, a);
  std::vector<void*> slot(kSlots);
  bench::Rng r(77);
  uint64_t sum = 0;
  for (auto& s : slot) s = bench::make_block(16 + r.below(241), r.next(), false);
  for (uint64_t i = 0; i < rounds; i++) {
    void*& s = slot[r.below(kSlots)];
    sum += bench::take_block(s, bad);
    s = bench::make_block(16 + r.below(241), r.next(), false);
  }
  for (void* s : slot) sum += bench::take_block(s, bad);
  return sum;
}

// --mode=live10k|live1m|live10m: one thread replaces random slots of 10,000, 1,000,000 or 10,000,000 live
// 16-512 B blocks, 8,000,000 times: a big heap in steady state, where what the allocator holds beyond the
// live bytes (partly free spans, rounding) shows in peak RSS.
uint64_t at_scale(const bench::Args& a, size_t live, uint64_t* bad) {
  const uint64_t rounds = bench::scaled(8000000, a);
  std::vector<void*> slot(live);
  bench::Rng r(79);
  uint64_t sum = 0;
  for (auto& s : slot) s = bench::make_block(16 + r.below(497), r.next(), false);
  for (uint64_t i = 0; i < rounds; i++) {
    void*& s = slot[r.below(uint32_t(live))];
    sum += bench::take_block(s, bad);
    s = bench::make_block(16 + r.below(497), r.next(), false);
  }
  for (void* s : slot) sum += bench::take_block(s, bad);
  return sum;
}

uint64_t remote(const bench::Args& a, uint64_t* bad) {
  const uint64_t rounds = bench::scaled(800000, a);  // per thread
  // A slot holds block | owner (blocks are 16-byte aligned, so bit 0 is free); 0 while being replaced.
  std::vector<std::atomic<uintptr_t>> slot(kSlots);
  bench::Rng init(78);
  for (size_t i = 0; i < kSlots; i++)
    slot[i].store((uintptr_t)bench::make_block(16 + init.below(241), init.next(), false) | (i & 1));
  std::atomic<uint64_t> sums{0}, bads{0};
  auto worker = [&](uintptr_t me) {
    bench::Rng r(1000 + me), rb(2000 + me);  // r picks slots (more draws on misses), rb makes blocks
    uint64_t sum = 0, nbad = 0, misses = 0;
    for (uint64_t done = 0; done < rounds;) {
      std::atomic<uintptr_t>& s = slot[r.below(kSlots)];
      uintptr_t v = s.load(std::memory_order_acquire);
      if (v == 0 || (v & 1) == me || !s.compare_exchange_strong(v, 0, std::memory_order_acq_rel)) {
        if (++misses % 64 == 0) sched_yield();  // the other thread is far behind: let it run
        continue;
      }
      sum += bench::take_block((void*)(v & ~(uintptr_t)1), &nbad);
      void* p = bench::make_block(16 + rb.below(241), rb.next(), false);
      s.store((uintptr_t)p | me, std::memory_order_release);
      done++;
    }
    sums += sum;
    bads += nbad;
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  uint64_t sum = sums.load();
  *bad += bads.load();
  for (auto& s : slot) sum += bench::take_block((void*)(s.load() & ~(uintptr_t)1), bad);
  return sum;
}
}  // namespace

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  uint64_t bad = 0, sum;
  if (!strcmp(a.mode, "local")) sum = local(a, &bad);
  else if (!strcmp(a.mode, "remote")) sum = remote(a, &bad);
  else if (!strcmp(a.mode, "live10k")) sum = at_scale(a, 10000, &bad);
  else if (!strcmp(a.mode, "live1m")) sum = at_scale(a, 1000000, &bad);
  else if (!strcmp(a.mode, "live10m")) sum = at_scale(a, 10000000, &bad);
  else { fprintf(stderr, "--mode=local|remote|live10k|live1m|live10m\n"); return 2; }
  return bench::finish(sum, bad);
}
