// brk-like arenas: large regions of address space reserved up front (PROT_NONE, no memory), each with a
// break pointer that moves up to hand out page runs (spans) and down to give the top back, as the program
// break does; more arenas are reserved when one is full. The process's real brk is never touched.
//
// Freed runs are coalesced with free neighbours (found through the page map) and kept in size bins for
// reuse. Their pages stay resident ("dirty") for the purge delay, so a program that frees and allocates
// again soon does not fault pages in again; then they are purged: madvise(MADV_DONTNEED) inside an arena,
// or the break is lowered when the run is at the top. malloc_trim purges everything at once, and a cap
// on dirty bytes bounds what an idle program keeps.
//
// Every function takes the arena lock itself; none is on the malloc/free fast path.
#ifndef BRK_ARENA_H
#define BRK_ARENA_H

#include "allocator/span.h"

namespace brkmalloc {

// A run of `pages` pages, registered in the page map as the returned span's, whose kind is set before
// the lock is released (so a neighbour being freed never mistakes it for a free run); the caller fills
// in the rest. nullptr when the address space or memory is exhausted.
Span* arena_alloc(size_t pages, SpanKind kind);
// Gives a span's pages back (the record is reused or recycled). When they wait to be purged, asks for
// the background purger (purger.h), which the caller's caller starts once it holds no lock.
void arena_free(Span* s);
// Purges dirty runs: all of them if `all`, else those older than the purge delay. Returns bytes purged.
size_t arena_purge(bool all);
// Purges the runs that are due; returns milliseconds until the next one is, or ~0 if none is dirty.
uint64_t arena_purge_due();

struct ArenaStats {
  size_t reserved, below_break, free_bytes, dirty_bytes, purged_bytes;
  unsigned arenas;
};
ArenaStats arena_stats();
// Calls fn(span) for every small span below the breaks, under the arena lock (for statistics).
void arena_for_each_span(void (*fn)(const Span*, void*), void* ctx);

class Lock;
extern Lock g_arena_lock;

}  // namespace brkmalloc

#endif
