// Per-thread heaps and the malloc/free fast paths.
//
// Each thread allocates from its own heap: per size class a current span, a FIFO of spans with at least a
// quarter of their blocks free (avail) and a list of the others (full). The fast paths touch only the
// thread's heap and the span's record (malloc its owner line, free also its read-mostly line: span.h):
// no lock, no system call, no atomic read-modify-write.
// A free calls the slow path only when `used` falls to the span's `event_used`, one compare: for the
// current span never (a multi-block one; a one-block span at 0), for a full one when a quarter is free,
// or a sixteenth once the class has many full spans (heap.cc reuse_quota; then it goes to the tail of
// avail: a refill is worth its cost, and spans that regain blocks get time to regain more), for an avail
// one at 0 live blocks (then it goes back to the arena).
//
// Frees from other threads: see remote_free.h. In short, the freeing thread puts another heap's block on
// a small per-class list of its own (foreign[cls]) and returns a full list to the owning spans in
// batches, one atomic operation per span per batch. (Letting its mallocs take those blocks first was
// measured and left out: remote_free.h.)
//
// Who touches what:
// - owner thread, no lock: foreign[] (its own lists), span free/used (relaxed stores), block marks and
//   links of its spans and of its foreign lists, and reads of current[];
// - anyone holding heap->lock: avail/full lists, span full/rfreed/collected/event_used, releasing a span
//   that is not current and has no live block (the owner cannot touch such a span: it allocates only from
//   current spans, and frees only live blocks), current[] of an exited heap (pooled), and the owner's
//   refill when it puts a different span into current[] (so a reclaimer under the lock reads it exactly);
// - any thread, atomically: span thread_free and remote_next (only while pushing), heap remote_spans.
// A live thread's empty current spans stay with it (its fast path may be popping from them at any moment).
//
// Threads start on g_empty_heap, whose spans are all empty, so their first malloc takes the slow path
// and gets a heap; at thread exit the heap returns its empty spans to the arena and goes to a pool that
// the next new thread takes over (with its partly used spans). A thread that allocates after its heap
// is gone (late destructors) uses a shared heap under a lock.
//
// Checks: every free verifies, from the page map and the span alone, that the pointer is the start of a
// block we handed out (not interior, not misaligned, not foreign), and from the block's mark (on the line
// the free writes anyway) that it is not already free; that is what stops a bad free from corrupting the
// heap. BRKMALLOC_CHECKS=full adds free-list integrity: links encoded with a secret and range-checked on
// every pop, so a use-after-free write is caught. That costs more than 5 % of a malloc+free pair
// (bench/checks_cost.sh), so it is opt-in, and it sends every malloc and free through the slow paths.
#ifndef BRK_HEAP_H
#define BRK_HEAP_H

#include <atomic>

#include "allocator/lock.h"
#include "allocator/page_map.h"
#include "allocator/remote_free.h"
#include "allocator/report.h"
#include "allocator/size_classes.h"
#include "allocator/span.h"

namespace brkmalloc {

struct Heap {
  Span* current[kNumClasses];  // the fast path allocates from these (a span, or the empty one)
  SpanList avail[kNumClasses];
  SpanList full[kNumClasses];
  std::atomic<Span*> remote_spans{nullptr};
  Lock lock;
  Heap* pool_next = nullptr;
  Heap* all_next = nullptr;  // every heap ever made (heap.cc g_all_heaps); set once, before publication
  Span* idle_big = nullptr;  // the one empty one-block span kept as a current span (heap.cc span_event)
  bool pooled = false;       // exited: no owner (under lock)
  uint8_t fork_depth = 0;    // fork.cc: the nesting level whose prepare took this lock, plus one
  // Other heaps' blocks this thread freed, per class (remote_free.h): kNumClasses lists the fast path pops
  // as it pops a span (free), with used = minus the number of blocks on each. Only free and used are
  // meaningful. They live after the heap in its own mapping (heap_life.cc), so that the two static heaps
  // (the empty and the shared one, which never have any) keep the library's data small; nullptr there.
  Span* foreign = nullptr;

  constexpr explicit Heap(Span* empty) : current{}, avail{}, full{} {
    for (Span*& c : current) c = empty;
  }
  // A heap in fresh zeroed pages (heap_life.cc): only current[] is not zero, and only it is written, so
  // a thread's heap costs the pages its classes use rather than its whole size (most of it is foreign[]).
  // `foreign` is set by the caller.
  struct Zeroed {};
  Heap(Span* empty, Zeroed) {
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
// free_slow without the hardened mode's hook (hardened.h calls it once a block leaves quarantine).
void free_checked(void* p, Span* s);
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
  __atomic_store_n(&s->used, s->used + 1, __ATOMIC_RELAXED);
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
  if (BRK_UNLIKELY(!s)) return free_slow(p, s);
  if (BRK_UNLIKELY(s->owner != tls_fast_owner)) return free_other(p, s);
  Block* b = static_cast<Block*>(p);
  if (BRK_UNLIKELY(!block_start(s, p) || marked_free(b))) return free_slow(p, s);
  // Two plain stores (relaxed atomics only so that the compiler does not pair them through SSE registers).
  __atomic_store_n(&b->mark, free_mark(b), __ATOMIC_RELAXED);
  __atomic_store_n(&b->link, encode_link_as<false>(s->free, b), __ATOMIC_RELAXED);
  s->free = b;
  uint32_t used = s->used - 1;
  __atomic_store_n(&s->used, used, __ATOMIC_RELAXED);
  if (BRK_UNLIKELY(used == __atomic_load_n(&s->event_used, __ATOMIC_RELAXED))) heap_span_event(s->owner, s);
}

// Thread and process life cycle (heap.cc).
// Drains every heap's remote frees and gives back each span with no live block that no live thread
// allocates from (and the caller's own empty current spans). `wait`: false skips heaps whose lock is busy
// (the purger). Returns spans given back.
size_t heap_reclaim_all(bool wait);
size_t heap_count();
// Calls fn(heap) for every heap ever made and the shared one, without locks (statistics).
void heap_for_each(void (*fn)(const Heap*, void*), void* ctx);
// fork.cc: every heap's lock, in registry order, after g_shared_lock and before the arena's.
void heap_fork_lock(unsigned depth, bool try_only);
bool heap_fork_any_held_by_me();
void heap_fork_unlock(unsigned depth);
void heap_fork_child_note_held();  // fork_child.h: heap locks the child's thread still holds

}  // namespace brkmalloc

#endif
