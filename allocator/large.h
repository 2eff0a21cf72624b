// Blocks above the largest size class, and blocks aligned beyond a page. Each has a home of its own:
// - an arena run (kLarge, in_arena): sizes up to the mmap threshold (which rises as glibc's, up to
//   kMaxMmapThreshold), any alignment up to kMaxArenaAlign, and any size when mmap fails. Freed, the run goes
//   back to the arena, whose dirty pages serve the next big block without a fault or a system call until the
//   purge delay passes (arena.h). Resized in place when the run after it or the break allows.
// - its own private anonymous mapping: above the threshold (and alignments beyond kMaxArenaAlign); unmapped
//   when freed, resized with mremap(MREMAP_MAYMOVE). The page map knows only the page of its user pointer.
//   While the threshold still rises by itself (no setting fixed it), a block above it takes resident arena
//   pages instead when a dirty run fits (arena_alloc's resident_only): a program replacing big blocks by
//   bigger ones then reuses the pages it freed rather than faulting in fresh ones. Freeing a block above
//   the threshold raises it, wherever the block lived.
// Interior pointers are never found: the page map's entry for a page inside a block is the block's only
// when that page is the block's first.
#ifndef BRK_LARGE_H
#define BRK_LARGE_H

#include "allocator/span.h"

namespace brkmalloc {

// A block of `size` bytes aligned to `align` (a power of two), all zero if `zero`; nullptr when out of memory.
void* large_alloc(size_t size, size_t align, bool zero);
void large_free(Span* s);
// Resizes in place (arena runs) or with mremap (mappings); nullptr (block intact) when neither can, and the
// caller then allocates, copies and frees.
void* large_resize(Span* s, size_t size);

struct LargeStats {
  size_t count, bytes, requested;   // every large block
  size_t mapped_count, mapped_bytes;  // those with a mapping of their own
};
LargeStats large_stats();

}  // namespace brkmalloc

#endif
