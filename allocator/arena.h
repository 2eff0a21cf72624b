// brk-like arenas: large regions of address space reserved up front (PROT_NONE, no memory), each with a
// break pointer that moves up to hand out page runs (spans) and down to give the top back, as the program
// break does; more arenas are reserved when one is full. The process's real brk is never touched.
//
// Free runs live in size bins, one set for dirty runs and one for clean ones: one bin per length up to 255
// pages, then four per doubling, with a bitmap of the non-empty ones, so a run is found in O(1) of the
// number of runs (best fit among the first few runs of the right bin, else of the next non-empty bin).
// A request takes resident pages first: a dirty run, else the dirty run at an arena's top with the break
// moved for the rest (only that part is fresh); then a clean run, else fresh pages from a break.
// Freed runs merge with free neighbours in the
// same state only: a dirty run (pages may be resident) never absorbs a clean one (purged or never used),
// so every run is wholly dirty or wholly clean, and nothing already purged is purged again. Dirty runs wait
// the purge delay (first touch of a page costs far more than keeping it) and are purged with
// madvise(MADV_DONTNEED), or by lowering the break when they are at the top; once purged a run merges with
// its clean neighbours. When a run is due (its age, and a cap that follows the program's recent peak) is
// decay.h's policy. malloc_trim purges everything at once.
//
// Page map: the arena registers the first and last page of every span it hands out and of every free run
// (what neighbour lookups and frees of a span's start need); a span of many small blocks has its other
// pages registered by its owner (heap.cc). Entries inside a run or a one-block span may be stale: every
// lookup checks kind and range before trusting a record.
//
// Every function takes the arena lock itself; none is on the malloc/free fast path.
#ifndef BRK_ARENA_H
#define BRK_ARENA_H

#include "allocator/span.h"

namespace brkmalloc {

// A run of `pages` pages whose first page is aligned to `align_pages` pages (a power of two), registered
// in the page map (first and last page) as the returned span's, whose kind is set before the lock is
// released; the caller fills in the rest. s->dirty says whether its pages may hold old data (0: they read
// as zero). nullptr when the address space or memory is exhausted.
// With resident_only, only resident pages serve it (a dirty run, or the dirty run at an arena's top with the
// break moved for the rest): nullptr otherwise (a block above the mmap threshold then gets its mapping).
Span* arena_alloc(size_t pages, SpanKind kind, size_t align_pages = 1, bool resident_only = false);
// Gives a span's pages back (the record is reused or recycled). When they wait to be purged, asks for
// the background purger (purger.h), which the caller's caller starts once it holds no lock.
void arena_free(Span* s);
// Resizes an arena span in place to `pages`: shrinking gives the tail back, growing takes the free run
// that follows it or moves the break. False (nothing changed) when it cannot grow in place.
bool arena_resize(Span* s, size_t pages);
// Purges dirty runs: all of them if `all`, else those older than the purge delay. Returns bytes purged.
size_t arena_purge(bool all);
// Purges the runs that are due; returns milliseconds until the next one is, or ~0 if none is dirty.
uint64_t arena_purge_due();

struct ArenaStats {
  size_t reserved, below_break, free_bytes, dirty_bytes, purged_bytes, madvised_bytes;
  size_t free_runs;
  size_t live_bytes, dirty_cap;  // handed out; the cap on dirty bytes of the moment (decay.h)
  unsigned arenas;
};
ArenaStats arena_stats();
// Calls fn(span) for every small span below the breaks, under the arena lock (for statistics).
void arena_for_each_span(void (*fn)(const Span*, void*), void* ctx);

class Lock;
extern Lock g_arena_lock;

}  // namespace brkmalloc

#endif
