// churn: several threads, each keeping tens of thousands of live blocks of random sizes (1 B .. 1 MiB, mostly
// small, some across the 128 KiB mmap threshold) and replacing them at random by malloc, calloc, realloc and
// free. Every block carries a pattern derived from its address and size, checked before each free/realloc.
#include <thread>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

struct Slot {
  void* p = nullptr;
  size_t n = 0;
};

const size_t kMaxLarge = 1 << 20;

size_t pick_size(Rng& r, bool large) { return large ? r.logrange(140 * 1024, kMaxLarge) : mixed_size(r, kMaxLarge); }

void* new_block(int t, Rng& r, size_t n) {
  trace(t, "malloc/calloc", nullptr, 0, nullptr, n);
  unsigned how = (unsigned)r.below(10);
  void* p;
  if (how == 0) {
    p = S_CALLOC(1, n);
    if (p) check_zero(p, n, "calloc");
  } else if (how == 1) {
    p = S_REALLOC(nullptr, n);
  } else {
    p = S_MALLOC(n);
  }
  if (!p) fail("allocation of %zu bytes returned NULL", n);
  trace(t, "malloc/calloc", nullptr, 0, p, n);
  check_align(p, n, "new block");
  size_t u = S_USABLE(p);
  if (u < n) fail("usable size %zu of block %p is below its size %zu", u, p, n);
  fill(p, n);
  return p;
}

void worker(int t, size_t nsmall, size_t nlarge, double deadline, std::atomic<uint64_t>* total_ops) {
  Rng r(g_opt.seed * 1000003 + (uint64_t)t);
  std::vector<Slot> slots(nsmall + nlarge);
  uint64_t ops = 0;
  // Start three quarters full so the live set is large from the beginning.
  for (size_t i = 0; i < slots.size(); i++) {
    if (r.below(4) == 0) continue;
    bool large = i >= nsmall;
    slots[i].n = pick_size(r, large);
    slots[i].p = new_block(t, r, slots[i].n);
  }
  for (;;) {
    for (int k = 0; k < 1024; k++, ops++) {
      size_t i = r.below(slots.size());
      bool large = i >= nsmall;
      Slot& s = slots[i];
      if (!s.p) {
        s.n = pick_size(r, large);
        s.p = new_block(t, r, s.n);
        continue;
      }
      check(s.p, s.n, "before free/realloc");
      if (r.below(4) == 0) {
        // realloc: either a nearby size (in place is likely) or a fresh random one.
        size_t n2 = r.chance(50) ? pick_size(r, large) : (size_t)r.range(s.n > 64 ? s.n - 64 : 1, s.n + 64);
        trace(t, "realloc", s.p, s.n, nullptr, n2);
        void* q = S_REALLOC(s.p, n2);
        trace(t, "realloc", s.p, s.n, q, n2);
        if (!q) fail("realloc(%p, %zu) returned NULL", s.p, n2);
        check_align(q, n2, "realloc");
        check_pattern(q, s.n < n2 ? s.n : n2, s.p, s.n, "after realloc");
        fill(q, n2);
        s.p = q;
        s.n = n2;
      } else {
        trace(t, "free", s.p, s.n, nullptr, 0);
        S_FREE(s.p);
        trace(t, "free", s.p, s.n, s.p, 0);
        s.p = nullptr;
      }
    }
    if (now_s() > deadline) break;
  }
  for (Slot& s : slots) {
    if (!s.p) continue;
    check(s.p, s.n, "final check");
    S_FREE(s.p);
  }
  total_ops->fetch_add(ops);
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("churn", argc, argv);
  size_t threads = thread_knob(4, 4);
  size_t nsmall = knob(16000, 40000);
  size_t nlarge = knob(12, 24);
  double secs = run_seconds(2.0, 180.0);
  note("%zu threads x (%zu small + %zu large slots), %.1f s", threads, nsmall, nlarge, secs);
  std::atomic<uint64_t> ops{0};
  double deadline = now_s() + secs;
  std::vector<std::thread> ts;
  for (size_t t = 0; t < threads; t++) ts.emplace_back(worker, (int)t, nsmall, nlarge, deadline, &ops);
  for (auto& th : ts) th.join();
  note("PASS: %llu operations, final RSS %.1f MiB", (unsigned long long)ops.load(), mib(rss_bytes()));
  return 0;
}
