// Start-up, fork and exit (see runtime.h).
#include "allocator/runtime.h"

#include <pthread.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include <atomic>

#include "allocator/arena.h"
#include "allocator/hardened.h"
#include "allocator/heap.h"
#include "allocator/lock.h"
#include "allocator/meta.h"
#include "allocator/options.h"
#include "allocator/prof.h"
#include "allocator/purger.h"
#include "allocator/stats.h"

namespace brkmalloc {

size_t g_small_bound = 0;
bool g_runtime_ready = false;

Lock g_init_lock;  // taken by runtime_init_slow only

namespace {

// Sizes below g_small_bound take the inline fast path; under full checks none does (it has no checks),
// not even size 0, which is why the bound is exclusive; with glibc's perturb byte none does either (the
// slow paths fill the blocks).
size_t small_bound_for(size_t threshold) {
  // The heap profiler counts every malloc on the slow path (prof.h), so it needs none on the fast one.
  if (g_full_checks || g_prof_on || __atomic_load_n(&g_options.perturb, __ATOMIC_RELAXED)) return 0;
  return (threshold < kSmallLookupMax ? threshold : kSmallLookupMax) + 1;
}

// BRKMALLOC_STATS=1 writes to a copy of stderr taken at start-up: programs such as coreutils close
// stderr in their own exit handlers, which run before ours.
int g_stats_fd = 2;
void print_stats_at_exit() { stats_print(g_stats_fd); }

}  // namespace

void runtime_init_slow() {
  LockGuard g(g_init_lock);
  if (g_runtime_ready) return;
  options_init();
  // Fixed here, before any block exists: free lists are written in one format for the whole run.
  g_full_checks = g_options.full_checks || g_options.hardened;  // hardened implies the full checks
  g_hardened = g_options.hardened;
  secrets_init();
  prof_init();
  heap_thread_key_init();
  if (g_hardened) hardened_init();  // after the secrets, which it derives its own from
  g_small_bound = small_bound_for(mmap_threshold());
  __atomic_store_n(&g_runtime_ready, true, __ATOMIC_RELEASE);
}

void runtime_init_late() {
  static std::atomic<bool> done{false};
  if (done.load(std::memory_order_acquire) || done.exchange(true)) return;
  fork_handlers_install();
  if (g_options.print_stats) {
    int saved = errno;
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0) g_stats_fd = fd;
    errno = saved;
    atexit(print_stats_at_exit);
  }
}

namespace {

void store_threshold(size_t bytes) {
  if (bytes > kMaxMmapThreshold) bytes = kMaxMmapThreshold;
  __atomic_store_n(&g_options.mmap_threshold, bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&g_small_bound, small_bound_for(bytes), __ATOMIC_RELAXED);
}

}  // namespace

void refresh_small_bound() { store_threshold(mmap_threshold()); }

void set_mmap_threshold(size_t bytes) {
  runtime_init();
  __atomic_store_n(&g_options.threshold_fixed, true, __ATOMIC_RELAXED);
  store_threshold(bytes);
}

void raise_mmap_threshold(size_t bytes) {
  if (__atomic_load_n(&g_options.threshold_fixed, __ATOMIC_RELAXED) || bytes > kMaxMmapThreshold) return;
  // Only upwards; a racing mallopt wins (it is stored after, or the fixed flag is seen next time).
  size_t cur = mmap_threshold();
  while (bytes > cur && !__atomic_compare_exchange_n(&g_options.mmap_threshold, &cur, bytes, true,
                                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

// Settings are read (and malformed ones reported) at load time even in a program that never allocates.
// If the first malloc came before the environment was set up, the settings are read here.
__attribute__((constructor)) static void runtime_constructor() {
  runtime_init();
  options_init();
  if (!g_prof_on) prof_init();  // the environment may have arrived after the first malloc
  store_threshold(g_options.mmap_threshold);
  // Here, not in the first malloc: a fully static program's first malloc comes from libc's own start-up,
  // before the unwinder can walk a stack; a constructor runs after it, and may allocate.
  prof_start();
}

}  // namespace brkmalloc
