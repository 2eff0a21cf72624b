// Large objects: every request above the mmap threshold gets its own private anonymous mapping, returned
// with munmap when freed and resized with mremap (no copy). The page map knows only the page of the user
// pointer, so a large block's metadata is found by address and an interior pointer is not.
#ifndef BRK_LARGE_H
#define BRK_LARGE_H

#include "allocator/span.h"

namespace brkmalloc {

// A mapping for `size` bytes aligned to `align` (a power of two); nullptr when out of memory.
void* large_alloc(size_t size, size_t align);
void large_free(Span* s);
// Resizes in place or moves the pages with mremap; nullptr (block intact) when the OS refuses or the
// block lives in an arena (then the caller copies).
void* large_resize(Span* s, size_t size);

struct LargeStats {
  size_t count, bytes, requested;
};
LargeStats large_stats();

}  // namespace brkmalloc

#endif
