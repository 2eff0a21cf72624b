// Larson-like server churn: each thread replaces random slots of a slot array with new blocks of
// random size; after each epoch the threads exit and new threads take over each other's arrays,
// so most blocks are freed by a different (and newer) thread than the one that allocated them.
#include <thread>
#include <vector>

#include "common.h"

struct Slot { void* p; };

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  const int T = a.threads;
  const size_t kSlots = 4000;
  const uint64_t rounds = bench::scaled(180000, a);  // replacements per thread per epoch
  const int epochs = 24;
  std::vector<std::vector<Slot>> arrays(T, std::vector<Slot>(kSlots));
  std::vector<uint64_t> sums(T, 0), bads(T, 0);
  for (int t = 0; t < T; t++) {
    bench::Rng r(1000 + t);
    for (auto& s : arrays[t]) s.p = bench::make_block(r.size_skewed(16, 1024), r.next(), false);
  }
  for (int e = 0; e < epochs; e++) {
    std::vector<std::thread> ths;
    for (int t = 0; t < T; t++) {
      ths.emplace_back([&, t, e] {
        std::vector<Slot>& arr = arrays[(t + e) % T];  // hand-off: a different array each epoch
        bench::Rng r((uint64_t)e * 7919 + t + 1);
        uint64_t sum = 0, bad = 0;
        for (uint64_t i = 0; i < rounds; i++) {
          Slot& s = arr[r.below(kSlots)];
          sum += bench::take_block(s.p, &bad);
          s.p = bench::make_block(r.size_skewed(16, 1024), r.next(), false);
        }
        sums[t] += sum;
        bads[t] += bad;
      });
    }
    for (auto& th : ths) th.join();
  }
  uint64_t sum = 0, bad = 0;
  for (int t = 0; t < T; t++) {
    sum += sums[t];
    bad += bads[t];
    for (auto& s : arrays[t]) sum += bench::take_block(s.p, &bad);
  }
  return bench::finish(sum, bad);
}
