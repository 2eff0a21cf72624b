// Process-wide start-up, fork handling and exit reporting. runtime_init does only work that cannot
// allocate (settings, secrets, the thread-exit key); runtime_init_late runs once a heap exists and may
// call libc functions that allocate (pthread_atfork, atexit), which then land on a working allocator.
#ifndef BRK_RUNTIME_H
#define BRK_RUNTIME_H

#include "allocator/config.h"

namespace brkmalloc {

// Sizes below this take the table lookup on the malloc fast path: min(1 KiB, mmap threshold) + 1; 0
// until runtime_init has run (so the very first call takes the slow path, which initializes) and under
// BRKMALLOC_CHECKS=full (every call takes the checked slow paths).
extern size_t g_small_bound;

void runtime_init_slow();
extern bool g_runtime_ready;
BRK_INLINE void runtime_init() {
  if (BRK_UNLIKELY(!__atomic_load_n(&g_runtime_ready, __ATOMIC_ACQUIRE))) runtime_init_slow();
}
void runtime_init_late();
// Sets the threshold (clamped to kMaxMmapThreshold) and fixes it, as glibc's mallopt does.
void set_mmap_threshold(size_t bytes);
// Recomputes g_small_bound after a setting it depends on changed (mallopt(M_PERTURB)).
void refresh_small_bound();
// glibc's dynamic threshold: when a block that got its own mapping is freed and the threshold was never
// set explicitly, blocks up to its size come from size classes from then on (up to kMaxMmapThreshold, 32 MiB, as glibc),
// so a program that churns blocks of one size does not pay mmap, munmap and page faults for each.
void raise_mmap_threshold(size_t bytes);

// fork.cc: the atfork handlers (installed once, by runtime_init_late).
void fork_handlers_install();

// Defined by heap.cc, called from here.
void secrets_init();
void heap_thread_key_init();

}  // namespace brkmalloc

#endif
