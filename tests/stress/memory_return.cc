// memory_return: allocate a large amount in small blocks (default 256 MiB, --long 1 GiB), touch every byte,
// free everything (in random order), malloc_trim(0), and see how much of it the process still holds.
// Phase A does this from the main thread; phase B from two threads at once (half each), trimmed from main.
// Figures always printed: RSS base / peak / after free / after trim, and retained = (after trim - base) /
// (peak - base). Bound, asserted only with --promise-return (the runner passes it for allocators that
// promise malloc_trim returns freed memory: brkmalloc and glibc):
//     after_trim - base <= (peak - base) / 10.
// The pointer table lives in its own mmap, outside the allocator.
#include <sys/mman.h>

#include <thread>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

struct Table {
  void** p;
  size_t cap;
  size_t n = 0;
  explicit Table(size_t c) : cap(c) {
    void* m = mmap(nullptr, c * sizeof(void*), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) fail("mmap of the pointer table failed");
    p = (void**)m;
  }
  ~Table() { munmap(p, cap * sizeof(void*)); }
};

// Allocates `bytes` in blocks of 16..2048 bytes, each fully written; returns the blocks in t.
void fill_up(Rng& r, Table& t, size_t bytes) {
  size_t done = 0;
  while (done < bytes && t.n < t.cap) {
    size_t n = r.range(16, 2048);
    void* b = S_MALLOC(n);
    if (!b) fail("malloc(%zu) returned NULL after %zu bytes", n, done);
    memset(b, (int)(n & 0xFF) | 1, n);
    t.p[t.n++] = b;
    done += n;
  }
}

void free_all(Rng& r, Table& t) {
  for (size_t i = t.n; i > 1; i--) std::swap(t.p[i - 1], t.p[r.below(i)]);
  for (size_t i = 0; i < t.n; i++) S_FREE(t.p[i]);
  t.n = 0;
}

// Runs one phase with `threads` allocating threads; returns false if the bound is broken (and promised).
bool phase(const char* name, size_t total, size_t threads, double* retained) {
  size_t per = total / threads, cap = per / 16 + 16;
  std::vector<Table*> tables;
  for (size_t i = 0; i < threads; i++) tables.push_back(new Table(cap));
  S_TRIM();
  size_t base = rss_bytes();
  std::vector<std::thread> ts;
  auto run = [&](void (*fn)(Rng&, Table&, size_t), bool alloc) {
    ts.clear();
    for (size_t i = 0; i < threads; i++)
      ts.emplace_back([&, i, fn, alloc] {
        Rng r(g_opt.seed * 16807 + i + (alloc ? 0 : 1000));
        if (alloc) fn(r, *tables[i], per);
        else free_all(r, *tables[i]);
      });
    for (auto& t : ts) t.join();
  };
  double t0 = now_s();
  run(fill_up, true);
  size_t peak = rss_bytes();
  run(nullptr, false);
  size_t after_free = rss_bytes();
  S_TRIM();
  size_t after_trim = rss_bytes();
  double secs = now_s() - t0;
  for (Table* t : tables) delete t;
  size_t grow = peak > base ? peak - base : 0, kept = after_trim > base ? after_trim - base : 0;
  double ratio = grow ? (double)kept / (double)grow : 0;
  *retained = 100 * ratio;
  note("%s: %.0f MiB in %zu thread(s): RSS base %.1f, peak %.1f, after free %.1f, after trim %.1f MiB; retained "
       "%.1f%% (bound 10%%%s) [%.1f s]",
       name, mib(total), threads, mib(base), mib(peak), mib(after_free), mib(after_trim), 100 * ratio,
       g_opt.promise_return ? ", asserted" : ", reported only", secs);
  if (!g_opt.promise_return) return true;
  if (grow < total / 2)
    fail("%s: RSS grew only %.1f MiB for %.1f MiB of touched blocks: measurement broken", name, mib(grow), mib(total));
  if (kept * 10 > grow) {
    fprintf(stderr, "FAIL memory_return seed=%llu: %s: after malloc_trim(0) RSS is %.1f MiB above base, more than "
            "10%% of the %.1f MiB peak growth\n", (unsigned long long)g_opt.seed, name, mib(kept), mib(grow));
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("memory_return", argc, argv);
  size_t total = knob(256u << 20, 1024u << 20);
  double ra = 0, rb = 0;
  bool ok = phase("A (one thread)", total, 1, &ra);
  ok = phase("B (two threads)", total / 2, 2, &rb) && ok;
  note("figure: retained after trim A %.1f%% B %.1f%%", ra, rb);
  if (!ok) return 1;
  note("PASS");
  return 0;
}
