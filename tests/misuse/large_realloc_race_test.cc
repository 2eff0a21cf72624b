// Regression test for a race between a large realloc that moves its block and a large malloc in another
// thread: the moving realloc's old range is unmapped by mremap before the page map marks it freed, so
// another thread's new mapping at the same address can be registered and then overwritten, after which
// its live block reads as invalid ("malloc_usable_size of invalid pointer", "double free"). Thread A
// grows large blocks with realloc (forcing moves, address reuse); thread B allocates large blocks, checks
// usable_size and frees them. Runs for about 3 seconds; a failure is an abort from brkmalloc.
#include <stdio.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "allocator/brkmalloc.h"

int main() {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0}, rounds_a{0}, rounds_b{0};
  std::thread a([&] {
    for (long i = 0; !stop.load(std::memory_order_relaxed); i++) {
      char* p = static_cast<char*>(brk_malloc(200 << 10));
      void* neighbour = brk_malloc(200 << 10);  // makes growing in place unlikely: the realloc moves
      p[0] = 7;
      char* q = static_cast<char*>(brk_realloc(p, (400 << 10) + (i % 16) * 4096));
      if (q == nullptr || q[0] != 7) bad++;
      brk_free(neighbour);
      brk_free(q);
      rounds_a++;
      if ((i & 255) == 0 && Clock::now() > deadline) stop = true;
    }
  });
  std::thread b([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      size_t n = 200 << 10;
      char* p = static_cast<char*>(brk_malloc(n));
      if (p == nullptr || brk_usable_size(p) < n) bad++;
      else memset(p, 1, 64);
      brk_free(p);
      rounds_b++;
    }
  });
  a.join();
  b.join();
  printf("%ld moving reallocs, %ld mallocs in the other thread, %ld bad answers\n", rounds_a.load(),
         rounds_b.load(), bad.load());
  printf("large_realloc_race: %d passed, %d failed\n", bad == 0 ? 1 : 0, bad == 0 ? 0 : 1);
  return bad == 0 ? 0 : 1;
}
