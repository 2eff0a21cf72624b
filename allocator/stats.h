// Statistics: gathered on demand by walking the arenas' spans and reading the large-object counters,
// so the fast paths keep no counters. Feeds brk_get_stats, malloc_stats, mallinfo2 and malloc_info.
#ifndef BRK_STATS_H
#define BRK_STATS_H

#include <stdio.h>

#include "allocator/brkmalloc.h"
#include "allocator/size_classes.h"

namespace brkmalloc {

// Where a small span is, for the owner heap (heap.h): allocating from it (current), waiting with room
// (avail), or waiting until enough of it is free again (full).
enum SpanState { kStateCurrent = 0, kStateAvail = 1, kStateFull = 2, kSpanStates = 3 };

struct ClassStats {
  size_t spans, bytes, blocks_used, blocks_capacity;
  // Per state: spans, and their free blocks (capacity minus live: free lists, blocks not carved yet,
  // frees of other threads not yet drained).
  size_t state_spans[kSpanStates], state_free[kSpanStates];
  // Blocks counted live in their spans that wait on some thread's foreign list (remote_free.h): freed,
  // and reused first by the thread that freed them.
  size_t cached;
};

void stats_collect(brk_stats* out, ClassStats* per_class /* kNumClasses entries, or nullptr */);
// malloc_stats's report to a file descriptor, without allocating and with cancellation disabled: glibc's
// lines first (in its format), then ours.
void stats_print(int fd);
// malloc_info's XML to a stdio stream.
int stats_xml(FILE* f);

}  // namespace brkmalloc

#endif
