// Per-thread heaps and the malloc/free fast paths.
//
// Each thread allocates from its own heap: per size class a current span, a list of spans with free
// blocks (avail) and a list of spans without (full). The fast paths touch only the thread's heap and
// the span's first cache line: no lock, no system call, no atomic read-modify-write.
//
// A block freed by a thread other than its span's owner is pushed on the owner heap's inbox (one CAS,
// the only atomic RMW, off the common path); the owner drains the inbox on its next slow path, so
// free lists are only ever written by their owner.
//
// Threads start on g_empty_heap, whose spans are all empty, so their first malloc takes the slow path
// and gets a heap; at thread exit the heap returns its empty spans to the arena and goes to a pool that
// the next new thread takes over (with its partly used spans). A thread that allocates after its heap
// is gone (late destructors) uses a shared heap under a lock.
//
// Checks: every free verifies, from the page map and the span alone, that the pointer is the start of a
// block we handed out (not interior, not misaligned, not foreign) and not already free; that is what
// stops a bad free from corrupting the heap. BRKMALLOC_CHECKS=full adds free-list integrity: links
// encoded with a secret and range-checked on every pop, so a use-after-free write is caught. That costs
// more than 5 % of a malloc+free pair (bench/checks_cost.sh), so it is opt-in, and it sends every
// malloc and free through the slow paths rather than doubling the inline ones.
#ifndef BRK_HEAP_H
#define BRK_HEAP_H

#include <atomic>

#include "allocator/page_map.h"
#include "allocator/report.h"
#include "allocator/size_classes.h"
#include "allocator/span.h"

namespace brkmalloc {

struct Heap {
  Span* current[kNumClasses];
  SpanList avail[kNumClasses];
  SpanList full[kNumClasses];
  std::atomic<Block*> inbox{nullptr};
  Heap* pool_next = nullptr;
  Span* idle_big = nullptr;  // the one empty one-block span kept as a current span (heap.cc span_event)

  constexpr explicit Heap(Span* empty) : current{}, avail{}, full{} {
    for (Span*& c : current) c = empty;
  }
};

extern Heap g_empty_heap;
extern __thread Heap* tls_heap BRK_TLS;
// The heap whose blocks this thread may free on the fast path: tls_heap in the default mode, and
// &g_empty_heap (which owns no span) when the thread has no heap or under full checks, so that every
// free then goes through free_slow.
extern __thread Heap* tls_fast_owner BRK_TLS;

// Slow paths (heap.cc).
void* heap_refill(Heap* h, unsigned cls);
void free_slow(void* p, Span* s);
void heap_span_event(Heap* h, Span* s);
[[noreturn]] void fatal_corrupt(const Block* b);

// Reports a corrupted free list and aborts. Declared as returning, so that the fast paths reach it with
// a jump instead of a call (no stack frame to set up in the common case).
void* pop_corrupt(const Block* b);

// Pops a block from span s, whose free list is not empty. Full checks verify that the next link stays
// inside the span's handed-out blocks.
template <bool kFull>
BRK_INLINE void* span_pop(Span* s, Block* b) {
  Block* next = decode_link_as<kFull>(b);
  if (kFull && BRK_UNLIKELY(uintptr_t(next) - s->start >= s->limit) && next) return pop_corrupt(b);
  s->free = next;
  s->used++;
  b->mark = 0;
  return b;
}
BRK_INLINE void* span_pop_any(Span* s, Block* b) {
  return g_full_checks ? span_pop<true>(s, b) : span_pop<false>(s, b);
}

// For the callers off the fast path (aligned, shared heap, first allocation), whichever the mode.
BRK_INLINE void* heap_alloc(Heap* h, unsigned cls) {
  Span* s = h->current[cls];
  Block* b = s->free;
  if (BRK_UNLIKELY(!b)) return heap_refill(h, cls);
  return span_pop_any(s, b);
}

// Is p the start of a block of small span s that has been handed out at least once?
BRK_INLINE bool block_start(const Span* s, const void* p) {
  uintptr_t off = uintptr_t(p) - s->start;
  // limit only grows, and a block handed to another thread lies below any value it reads; relaxed
  // (a plain load on x86) keeps that read well-defined.
  uint32_t limit = __atomic_load_n(&s->limit, __ATOMIC_RELAXED);
  return off < limit && ((off * s->div_magic) >> 48) * s->block_size == off;
}

// The default-mode free. Anything else (another thread's block, a large block, full checks, a pointer
// that is not a block start, a double free) goes to free_slow, which checks again and reports.
BRK_INLINE void heap_free(void* p) {
  Span* s = page_map_lookup(p);
  if (BRK_UNLIKELY(!s || s->owner != tls_fast_owner)) return free_slow(p, s);
  Block* b = static_cast<Block*>(p);
  if (BRK_UNLIKELY(!block_start(s, p) || b->mark == free_mark(b))) return free_slow(p, s);
  b->mark = free_mark(b);
  b->link = encode_link_as<false>(s->free, b);
  s->free = b;
  if (BRK_UNLIKELY(--s->used == 0 || s->full)) heap_span_event(s->owner, s);
}

// Thread and process life cycle (heap.cc).
void heap_trim_all();     // drains and releases what every reachable heap holds empty
size_t heap_count();

}  // namespace brkmalloc

#endif
