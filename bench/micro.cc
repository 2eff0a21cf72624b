// Google Benchmark microbenchmarks of the allocation fast path: malloc+free pairs per size, a batch of
// 1000 allocations then frees, and cross-thread free (a consumer thread frees what the timed thread
// allocates). Built three ways: plain malloc (run under each allocator by preload), plain malloc with
// brkmalloc linked in (//preload:override), and brkmalloc's prefixed API (BENCH_PREFIXED).
#include <benchmark/benchmark.h>

#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#ifdef BENCH_PREFIXED
#include "allocator/brkmalloc.h"
#define ALLOC brk_malloc
#define FREE brk_free
#else
#define ALLOC malloc
#define FREE free
#endif

// 64 other blocks of the same size stay live, so the pair's page never empties (a steady state, not a
// page being retired on every free).
static void BM_pair(benchmark::State& st) {
  const size_t n = (size_t)st.range(0);
  void* live[64];
  for (void*& p : live) p = ALLOC(n);
  for (auto _ : st) {
    void* p = ALLOC(n);
    benchmark::DoNotOptimize(p);
    FREE(p);
  }
  for (void* p : live) FREE(p);
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_pair)->Arg(16)->Arg(64)->Arg(256)->Arg(1024)->Arg(8192)->Arg(65536)->Arg(262144);

static void BM_batch(benchmark::State& st) {
  const size_t n = (size_t)st.range(0);
  constexpr int kBatch = 1000;
  void* ptrs[kBatch];
  for (auto _ : st) {
    for (int i = 0; i < kBatch; i++) {
      ptrs[i] = ALLOC(n);
      benchmark::DoNotOptimize(ptrs[i]);
    }
    for (int i = 0; i < kBatch; i++) FREE(ptrs[i]);
  }
  st.SetItemsProcessed(st.iterations() * kBatch);
}
BENCHMARK(BM_batch)->Arg(16)->Arg(64)->Arg(512);

// Spin briefly, then yield: on a 2-core machine shared with other work, pure spinning lets a descheduled
// partner stall the measurement for a whole time slice.
static inline void backoff(unsigned& spins) {
  if (++spins < 64) __builtin_ia32_pause();
  else { spins = 0; sched_yield(); }
}

static void BM_cross_thread_free(benchmark::State& st) {
  const size_t n = (size_t)st.range(0);
  constexpr size_t kRing = 4096;
  std::vector<std::atomic<void*>> ring(kRing);
  for (auto& s : ring) s.store(nullptr);
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    size_t tail = 0;
    unsigned spins = 0;
    for (;;) {
      void* p = ring[tail].load(std::memory_order_acquire);
      if (p) {
        ring[tail].store(nullptr, std::memory_order_relaxed);
        FREE(p);
        tail = (tail + 1) % kRing;
      } else if (stop.load(std::memory_order_acquire)) {
        if (!ring[tail].load(std::memory_order_acquire)) break;
      } else {
        backoff(spins);
      }
    }
  });
  size_t head = 0;
  unsigned spins = 0;
  for (auto _ : st) {
    char* p = (char*)ALLOC(n);
    p[0] = 1;
    while (ring[head].load(std::memory_order_acquire)) backoff(spins);
    ring[head].store(p, std::memory_order_release);
    head = (head + 1) % kRing;
  }
  stop.store(true, std::memory_order_release);
  consumer.join();
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_cross_thread_free)->Arg(64)->UseRealTime();

BENCHMARK_MAIN();
