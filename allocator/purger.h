// The background purger: one thread that gives dirty arena pages back to the OS once they are older
// than the purge delay, so a program that frees memory and then goes idle (makes no allocator call)
// still sees its RSS fall. Without it, purging happens only when the allocator is called.
//
// It is started lazily, by the first free that leaves pages waiting to be purged, so short programs
// never get a thread. pthread_create may call malloc, so the request (made under the arena lock) only
// raises a flag; purger_start_if_requested() is called from slow paths that hold no lock. The thread
// blocks every signal, never allocates, and sleeps on a futex while nothing is dirty (no wake-ups in an
// idle process). After fork() the child has none; its next request starts one.
// It also drains the remote frees of heaps whose threads are idle or gone (heap.h), so that memory freed
// to an idle thread's heap is given back too.
// BRKMALLOC_PURGE_THREAD=0 turns it off (e.g. for a program that must stay single-threaded to unshare()).
#ifndef BRK_PURGER_H
#define BRK_PURGER_H

#include <atomic>

#include "allocator/config.h"

namespace brkmalloc {

extern std::atomic<bool> g_purger_requested;

// Called with the arena lock held when dirty pages exist: wakes the purger, or asks for one.
void purger_request();
// Called by a free from another thread that queued a heap's first pending span: the purger drains the
// heaps (heap_reclaim_all) if their owners do not, at most once per kReclaimIntervalMs.
void purger_request_reclaim();
void purger_start_slow();
// Called where no allocator lock is held.
BRK_INLINE void purger_start_if_requested() {
  if (BRK_UNLIKELY(g_purger_requested.load(std::memory_order_relaxed))) purger_start_slow();
}
void purger_fork_child();

}  // namespace brkmalloc

#endif
