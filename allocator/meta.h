// Storage for the allocator's own metadata (span records), apart from the memory it hands out, so no
// program write into a block can reach it. Records are recycled through a free list, never returned to
// the OS: the page map may still point at a record while it waits to be reused.
#ifndef BRK_META_H
#define BRK_META_H

#include "allocator/span.h"

namespace brkmalloc {

Span* meta_new_span();         // zeroed record, or nullptr when out of memory
void meta_delete_span(Span* s);
size_t meta_mapped_bytes();

class Lock;
extern Lock g_meta_lock;

}  // namespace brkmalloc

#endif
