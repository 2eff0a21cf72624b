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

  constexpr explicit Heap(Span* empty) : current{}, avail{}, full{} {
    for (Span*& c : current) c = empty;
  }
};

extern Heap g_empty_heap;
extern __thread Heap* tls_heap BRK_TLS;

// Slow paths (heap.cc).
void* heap_refill(Heap* h, unsigned cls);
void free_slow(void* p, Span* s);
void heap_span_event(Heap* h, Span* s);
[[noreturn]] void fatal_corrupt(const Block* b);

// Reports a corrupted free list and aborts. Declared as returning, so that the fast paths reach it with
// a jump instead of a call (no stack frame to set up in the common case).
void* pop_corrupt(const Block* b);

// Pops a block from span s, whose free list is not empty.
BRK_INLINE void* span_pop(Span* s, Block* b) {
  Block* next = decode_link(b);
  if (BRK_FULL_CHECKS && BRK_UNLIKELY(uintptr_t(next) - s->start >= s->limit) && next) return pop_corrupt(b);
  s->free = next;
  s->used++;
  b->mark = 0;
  return b;
}

BRK_INLINE void* heap_alloc(Heap* h, unsigned cls) {
  Span* s = h->current[cls];
  Block* b = s->free;
  if (BRK_UNLIKELY(!b)) return heap_refill(h, cls);
  return span_pop(s, b);
}

// Is p the start of a block of small span s that has been handed out at least once?
BRK_INLINE bool block_start(const Span* s, const void* p) {
  uintptr_t off = uintptr_t(p) - s->start;
  // limit only grows, and a block handed to another thread lies below any value it reads; relaxed
  // (a plain load on x86) keeps that read well-defined.
  uint32_t limit = __atomic_load_n(&s->limit, __ATOMIC_RELAXED);
  return off < limit && ((off * s->div_magic) >> 48) * s->block_size == off;
}

BRK_INLINE void heap_free(void* p) {
  Span* s = page_map_lookup(p);
  Heap* h = tls_heap;
  if (BRK_UNLIKELY(!s || s->owner != h)) return free_slow(p, s);
  Block* b = static_cast<Block*>(p);
  // An interior or misaligned pointer, or a double free: free_slow checks again and reports it.
  if (BRK_FULL_CHECKS && BRK_UNLIKELY(!block_start(s, p))) return free_slow(p, s);
  if (BRK_UNLIKELY(b->mark == free_mark(b))) return free_slow(p, s);
  b->mark = free_mark(b);
  b->link = encode_link(s->free, b);
  s->free = b;
  if (BRK_UNLIKELY(--s->used == 0 || s->full)) heap_span_event(h, s);
}

// Thread and process life cycle (heap.cc).
void heap_trim_all();     // drains and releases what every reachable heap holds empty
size_t heap_count();
void heap_fork_prepare();
void heap_fork_parent();
void heap_fork_child();

}  // namespace brkmalloc

#endif
