// Statistics: gathered on demand by walking the arenas' spans and reading the large-object counters,
// so the fast paths keep no counters. Feeds brk_get_stats, malloc_stats, mallinfo2 and malloc_info.
#ifndef BRK_STATS_H
#define BRK_STATS_H

#include <stdio.h>

#include "allocator/brkmalloc.h"
#include "allocator/size_classes.h"

namespace brkmalloc {

struct ClassStats {
  size_t spans, bytes, blocks_used, blocks_capacity;
};

void stats_collect(brk_stats* out, ClassStats* per_class /* kNumClasses entries, or nullptr */);
// malloc_stats's report to a file descriptor, without allocating and with cancellation disabled: glibc's
// lines first (in its format), then ours.
void stats_print(int fd);
// malloc_info's XML to a stdio stream.
int stats_xml(FILE* f);

}  // namespace brkmalloc

#endif
