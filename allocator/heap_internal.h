// The heap's slow-path pieces shared by its three files: heap.cc (refills, span places and events, the
// checked free), remote_free.cc (frees from other threads) and heap_life.cc (thread start and exit, the
// pool, reclaiming idle and exited heaps, fork). Nothing outside those files includes this header; who may
// touch which field, and under what, is written in heap.h.
#ifndef BRK_HEAP_INTERNAL_H
#define BRK_HEAP_INTERNAL_H

#include "allocator/heap.h"
#include "allocator/remote_free.h"

namespace brkmalloc {

extern Span g_empty_span;
extern Heap g_shared_heap;  // threads past their exit, under g_shared_lock
extern Lock g_shared_lock;

// Is s one of h's current spans? Exact for the owner and under h->lock (heap.h).
BRK_INLINE bool is_current(Heap* h, const Span* s) {
  return __atomic_load_n(&h->current[s->cls], __ATOMIC_ACQUIRE) == s;
}
// Puts span s into current[cls] (the owner under h->lock, or anyone holding the lock of an unowned heap);
// a release store, because reclaimers read current[] under the lock while the owner's fast path does not
// take it.
BRK_INLINE void set_current(Heap* h, unsigned cls, Span* s) {
  __atomic_store_n(&h->current[cls], s, __ATOMIC_RELEASE);
}

// heap.cc: under h->lock. span_settle re-decides a non-current span's place once its live count fell;
// true when the span went back to the arena (the caller must not read it then).
bool span_settle(Heap* h, Span* s, bool own);
void take_collected(Span* s);

// heap_life.cc: the first allocation of a thread (or of the process).
void* alloc_without_heap(unsigned cls);

}  // namespace brkmalloc

#endif
