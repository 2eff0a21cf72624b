// When the arena's freed runs go back to the OS: the purge policy, apart from the mechanics (arena.cc).
//
// By age, as jemalloc's decay (dirty_decay_ms): a run freed less than the purge delay ago
// (BRKMALLOC_PURGE_DELAY_MS, 1 s) stays resident, and the arena reuses it before anything else; once it
// has stayed free for the delay it is purged. A working set of big blocks that is replaced faster than the
// delay therefore stays resident and pays no page fault, however big it is, and a program that frees
// memory and goes idle gets it back one delay later (the background purger, purger.h, keeps the time).
//
// A cap bounds the dirty bytes only when the program's own history says they are out of proportion:
// it follows the recent peak of the bytes the arena has handed out (live spans and big blocks), a maximum
// that halves every purge delay towards the live bytes of the moment. Dirty bytes above the cap are purged
// at once, oldest first. So a program never keeps more freed memory waiting than it recently used, and
// never less than kMinDirtyCap. glibc's M_TRIM_THRESHOLD, when set, is the cap instead (-1: none).
//
// Every function is called with the arena lock held.
#ifndef BRK_DECAY_H
#define BRK_DECAY_H

#include "allocator/config.h"

namespace brkmalloc {

// Never less than this is kept waiting for the delay (unless M_TRIM_THRESHOLD says otherwise).
constexpr size_t kMinDirtyCap = size_t{32} << 20;

// The arena's live bytes changed (to `live`) at `now`: keeps the decaying peak.
void decay_note_live(size_t live, uint64_t now);
// Dirty bytes beyond this are purged at once, oldest first.
size_t decay_cap(uint64_t now);
// Whether a run freed at `freed_ms` is due at `now` by age alone.
bool decay_due(uint64_t freed_ms, uint64_t now);
// Milliseconds from `now` until a run freed at `freed_ms` is due (0: due already).
uint64_t decay_wait(uint64_t freed_ms, uint64_t now);
// The peak the cap follows (for statistics and tests).
size_t decay_peak();
// Forgets the peak (tests: a known starting state).
void decay_reset();

}  // namespace brkmalloc

#endif
