// thread_churn: thousands of short-lived threads, started in batches. Each allocates a working set of
// patterned blocks, churns it, frees most, and hands a few blocks to a shared pool; the block it displaces
// from the pool (allocated by some other, usually dead, thread) it checks and frees. Two survivor threads
// run throughout, swapping their own blocks into the pool and freeing the ones they take out.
// Memory must stay bounded: per-thread allocator state has to be reused or released when threads exit.
// Bound (asserted for every allocator), with RSS read after batch 1 (first), after batch B/2 (mid) and at the
// end (end), start being before any worker thread:
//     end - mid <= (mid - first) / 2 + (first - start) + 4 MiB
// i.e. the second half of the run may add at most half of what the first half added, plus one first batch's
// footprint and 4 MiB for noise (tcmalloc, whose first half adds about 1 MiB, once added 3.9 MiB in the
// second half of a run on a loaded machine). The cost is sensitivity: with a shim leaking a written
// block per pthread_create, 8 KiB per thread fails by default and 4 KiB passes (without the 4 MiB, 4 KiB
// failed); --long runs 31x as many threads per half, so it sees leaks about 31x smaller. Bounded memory plateaus (end - mid near 0); a per-thread leak adds the same amount in
// both halves and fails once it exceeds twice the first batch's footprint. 64 batches by default: with
// 32, mimalloc had not always reached its plateau by the middle on a loaded machine. With
// --promise-return, RSS is read after malloc_trim(0), so pages kept for a purge delay do not count.
#include <mutex>
#include <thread>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

struct Block {
  void* p = nullptr;
  size_t n = 0;
};

struct Pool {
  std::mutex m;
  std::vector<Block> slots;
};

Block make(Rng& r) {
  Block b;
  b.n = r.chance(2) ? mixed_size(r, 256 * 1024) : (size_t)r.logrange(1, 4096);
  b.p = S_MALLOC(b.n);
  if (!b.p) fail("allocation of %zu bytes returned NULL", b.n);
  check_align(b.p, b.n, "thread_churn block");
  fill(b.p, b.n);
  return b;
}

void release(Block& b, const char* what) {
  check(b.p, b.n, what);
  S_FREE(b.p);
  b.p = nullptr;
}

// Puts b into a random slot; frees what was there.
void swap_into_pool(Pool* pool, Rng& r, Block b) {
  Block old;
  {
    std::lock_guard<std::mutex> g(pool->m);
    Block& s = pool->slots[r.below(pool->slots.size())];
    old = s;
    s = b;
  }
  if (old.p) release(old, "block from the pool (allocated by another thread)");
}

void short_lived(uint64_t id, Pool* pool, size_t working, size_t handoff) {
  Rng r(g_opt.seed * 2654435761u + id);
  std::vector<Block> mine(working);
  for (auto& b : mine) b = make(r);
  for (size_t k = 0; k < working * 2; k++) {
    Block& b = mine[r.below(working)];
    release(b, "short-lived churn");
    b = make(r);
  }
  for (size_t i = 0; i < working; i++) {
    if (i < handoff) swap_into_pool(pool, r, mine[i]);
    else release(mine[i], "short-lived exit");
  }
}

void survivor(int t, Pool* pool, std::atomic<bool>* stop) {
  Rng r(g_opt.seed * 40503 + (uint64_t)t);
  while (!stop->load()) {
    for (int i = 0; i < 16; i++) swap_into_pool(pool, r, make(r));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("thread_churn", argc, argv);
  size_t per_batch = knob(64, 64), batches = knob(64, 2000), working = 64, handoff = 8;
  note("%zu batches x %zu threads, each %zu live blocks, %zu handed over", batches, per_batch, working, handoff);
  Pool pool;
  pool.slots.resize(per_batch * handoff / 2);  // full after the first batch
  if (g_opt.promise_return) S_TRIM();
  size_t rss_start = rss_bytes();
  std::atomic<bool> stop{false};
  std::thread s1(survivor, 1, &pool, &stop), s2(survivor, 2, &pool, &stop);
  if (batches < 4) batches = 4;
  size_t rss_first = 0, rss_mid = 0, rss_max = 0;
  uint64_t id = 0;
  double t0 = now_s();
  for (size_t b = 0; b < batches; b++) {
    std::vector<std::thread> ts;
    for (size_t i = 0; i < per_batch; i++) ts.emplace_back(short_lived, ++id, &pool, working, handoff);
    for (auto& t : ts) t.join();
    // Freed pages an allocator keeps for a purge delay are not a per-thread leak: where it promises that
    // malloc_trim(0) returns them, they are returned before each reading.
    if (g_opt.promise_return) S_TRIM();
    size_t rss = rss_bytes();
    if (b == 0) rss_first = rss;
    if (b + 1 == batches / 2) rss_mid = rss;
    if (rss > rss_max) rss_max = rss;
    if (g_opt.long_mode && b % 100 == 99) note("batch %zu: RSS %.1f MiB", b + 1, mib(rss));
  }
  stop = true;
  s1.join();
  s2.join();
  size_t rss_end = rss_bytes();
  note("%llu threads in %.1f s; RSS start %.1f MiB, after batch 1 %.1f MiB, after batch %zu %.1f MiB, "
       "max %.1f MiB, end %.1f MiB",
       (unsigned long long)id, now_s() - t0, mib(rss_start), mib(rss_first), batches / 2, mib(rss_mid), mib(rss_max),
       mib(rss_end));
  auto up = [](size_t a, size_t b) { return a > b ? a - b : 0; };
  size_t first = up(rss_first, rss_start), half1 = up(rss_mid, rss_first), half2 = up(rss_end, rss_mid);
  const size_t noise = size_t{4} << 20;
  if (half2 > half1 / 2 + first + noise)
    fail("RSS still growing: the second half of the run added %.2f MiB, more than half the first half's %.2f MiB "
         "plus the first batch's %.2f MiB plus 4 MiB (per-thread memory leaks)",
         mib(half2), mib(half1), mib(first));
  for (Block& b : pool.slots)
    if (b.p) release(b, "pool at exit");
  note("PASS");
  return 0;
}
