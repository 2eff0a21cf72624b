// Larson-like server churn: each thread replaces random slots of a slot array with new blocks of
// random size; after each epoch the threads exit and new threads take over each other's arrays,
// so most blocks are freed by a different (and newer) thread than the one that allocated them.
// Default: 4000 slots per thread, sizes 16 B-1 KiB skewed small. --mode=wide: 20,000 slots per thread and
// sizes uniform in 16-2048 B (a larger live set per thread), with the work per epoch divided among
// --threads (so 16 threads on 2 cores do the same total work as 2: the oversubscribed variant).
#include <thread>
#include <vector>

#include "common.h"

struct Slot { void* p; };

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  const int T = a.threads;
  const bool wide = !strcmp(a.mode, "wide");
  if (!wide && a.mode[0]) { fprintf(stderr, "--mode=wide or none\n"); return 2; }
  const size_t kSlots = wide ? 20000 : 4000;
  // replacements per thread per epoch
  const uint64_t rounds = wide ? bench::scaled(60000.0 / T, a) : bench::scaled(180000, a);
  auto size = [wide](bench::Rng& r) { return wide ? 16 + r.below(2033) : r.size_skewed(16, 1024); };
  const int epochs = wide ? 12 : 24;
  std::vector<std::vector<Slot>> arrays(T, std::vector<Slot>(kSlots));
  std::vector<uint64_t> sums(T, 0), bads(T, 0);
  for (int t = 0; t < T; t++) {
    bench::Rng r(1000 + t);
    for (auto& s : arrays[t]) s.p = bench::make_block(size(r), r.next(), false);
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
          s.p = bench::make_block(size(r), r.next(), false);
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
