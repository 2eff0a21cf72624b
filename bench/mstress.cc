// mstress / alloc-test-like: many small allocations of mixed lifetimes (most die young, some live for
// a while, a few until the end) with full-content fill and checks. With --threads=2 two workers run at
// once and trade some blocks through shared exchange slots, so those are freed by the other thread.
#include <atomic>
#include <thread>
#include <vector>

#include "common.h"

namespace {
constexpr size_t kExchange = 64;
std::atomic<void*> g_exchange[kExchange];

uint64_t worker(int id, uint64_t steps, bool trade, uint64_t* bad) {
  bench::Rng r(4242 + id);
  std::vector<void*> young(256, nullptr), middle(4096, nullptr), old;
  uint64_t sum = 0;
  auto size = [&r]() -> size_t {
    uint32_t c = r.below(100);
    if (c < 80) return r.size_skewed(16, 256);
    if (c < 97) return r.size_skewed(256, 4096);
    return r.size_skewed(4096, 65536);
  };
  for (uint64_t i = 0; i < steps; i++) {
    void* p = bench::make_block(size(), r.next(), true);
    uint32_t life = r.below(1000);
    void** slot;
    if (life < 850) slot = &young[r.below((uint32_t)young.size())];
    else if (life < 995) slot = &middle[r.below((uint32_t)middle.size())];
    else { old.push_back(p); continue; }
    if (trade && r.below(16) == 0) p = g_exchange[r.below(kExchange)].exchange(p);  // may be the other thread's
    if (*slot) sum += bench::take_block(*slot, bad);
    *slot = p;
  }
  for (void* p : young) if (p) sum += bench::take_block(p, bad);
  for (void* p : middle) if (p) sum += bench::take_block(p, bad);
  for (void* p : old) sum += bench::take_block(p, bad);
  return sum;
}
}  // namespace

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  const int T = a.threads;
  const uint64_t steps = bench::scaled(5000000.0 / T, a);
  std::vector<uint64_t> sums(T, 0), bads(T, 0);
  if (T == 1) {
    sums[0] = worker(0, steps, false, &bads[0]);
  } else {
    std::vector<std::thread> ths;
    for (int t = 0; t < T; t++) ths.emplace_back([&, t] { sums[t] = worker(t, steps, true, &bads[t]); });
    for (auto& th : ths) th.join();
  }
  uint64_t sum = 0, bad = 0;
  for (int t = 0; t < T; t++) { sum += sums[t]; bad += bads[t]; }
  for (auto& e : g_exchange)
    if (void* p = e.exchange(nullptr)) sum += bench::take_block(p, &bad);
  return bench::finish(sum, bad);
}
