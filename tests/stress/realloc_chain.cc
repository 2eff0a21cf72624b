// realloc_chain: blocks grown step by step from 1 byte to several MiB and shrunk back to 1 byte with realloc,
// contents checked at every step. Step styles: byte by byte (small sizes), small fixed steps across the
// 128 KiB mmap threshold, random geometric steps (up to +/-25%), and jumps. Several threads run chains at once.
#include <thread>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

struct Chain {
  void* p;
  size_t n;
  uint64_t steps = 0;
};

// One realloc step to size m: the common prefix must keep the old pattern; then the block gets its new one.
void step(int t, Chain& c, size_t m) {
  trace(t, "realloc", c.p, c.n, nullptr, m);
  void* q = S_REALLOC(c.p, m);
  trace(t, "realloc", c.p, c.n, q, m);
  if (!q) fail("realloc(%p, %zu) from size %zu returned NULL", c.p, m, c.n);
  check_align(q, m, "realloc_chain");
  size_t keep = c.n < m ? c.n : m;
  check_pattern(q, keep, c.p, c.n, "after realloc step");
  size_t u = S_USABLE(q);
  if (u < m) fail("usable size %zu of %p below its size %zu after realloc", u, q, m);
  fill(q, m);
  c.p = q;
  c.n = m;
  c.steps++;
}

// The next size on the way up (or down) to `target`.
size_t next_size(Rng& r, size_t n, size_t target, bool up) {
  size_t d;
  if (n < 512) d = 1;                                                   // byte by byte
  else if (n > 120 * 1024 && n < 136 * 1024) d = r.range(1, 512);      // across the threshold, finely
  else if (r.chance(3)) d = n;                                          // a jump (doubling or halving)
  else d = r.range(1, n / 4 + 1);                                       // geometric
  if (up) return n + d > target ? target : n + d;
  if (!up && d >= n) d = n / 2 ? n / 2 : 1;
  size_t m = n - d;
  if (n < 512 && m == 0) m = 1;
  return m < target ? target : m;
}

void chains(int t, size_t rounds, size_t max_size, std::atomic<uint64_t>* total) {
  Rng r(g_opt.seed * 999983 + (uint64_t)t);
  uint64_t steps = 0;
  for (size_t k = 0; k < rounds; k++) {
    size_t top = r.range(max_size / 2, max_size);
    Chain c{S_MALLOC(1), 1};
    if (!c.p) fail("malloc(1) returned NULL");
    fill(c.p, 1);
    while (c.n < top) step(t, c, next_size(r, c.n, top, true));
    while (c.n > 1) step(t, c, next_size(r, c.n, 1, false));
    check(c.p, c.n, "end of chain");
    steps += c.steps;
    S_FREE(c.p);
  }
  total->fetch_add(steps);
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("realloc_chain", argc, argv);
  size_t threads = thread_knob(3, 4), rounds = knob(4, 400), max_size = knob(6u << 20, 16u << 20);
  note("%zu threads x %zu chains, 1 B .. up to %.0f MiB and back", threads, rounds, mib(max_size));
  std::atomic<uint64_t> steps{0};
  double t0 = now_s();
  std::vector<std::thread> ts;
  for (size_t i = 0; i < threads; i++) ts.emplace_back(chains, (int)i, rounds, max_size, &steps);
  for (auto& t : ts) t.join();
  note("PASS: %llu realloc steps in %.1f s", (unsigned long long)steps.load(), now_s() - t0);
  return 0;
}
