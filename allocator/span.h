// A span is a run of pages with one job: blocks of one size class (kSmall), one large object in its own
// mapping (kLarge), or free pages of an arena (kFree). Its metadata lives apart from the pages (meta.cc),
// so a program that overruns a block cannot rewrite it; the page map finds it from any address.
//
// Invariants of a small span (who may touch which field: heap.h):
// - used counts blocks handed out and not freed by the owner; rfreed counts blocks freed by other threads
//   and collected (on `collected`); live blocks = used - rfreed - blocks still pending on thread_free;
// - a freed block's first word is the encoded link, its second word its mark: free_mark on a free or
//   collected list, remote_mark (free_mark with bit 0 flipped) while pending on thread_free.
#ifndef BRK_SPAN_H
#define BRK_SPAN_H

#include "allocator/config.h"

namespace brkmalloc {

struct Heap;

enum SpanKind : uint8_t { kFree = 0, kSmall = 1, kLarge = 2 };

// The two words a freed block holds. With full checks, links are stored encoded (XOR with a per-process
// secret and the block's own address) so that a stray write through a dangling pointer decodes to an
// address outside the span and is caught the next time the list is used, instead of steering malloc to it.
struct Block {
  uintptr_t link;
  uintptr_t mark;  // free_mark(b) while on a free or collected list, remote_mark(b) while pending
};

struct Secrets {
  uintptr_t link;
  uintptr_t mark;
};
extern Secrets g_secrets;

// Full checks (BRKMALLOC_CHECKS=full, g_full_checks) encode links; the default mode stores them plain,
// because encoding costs more than 5 % of a malloc+free pair (bench/checks_cost.sh). The mode is fixed
// before the first block is handed out, so every list is written and read in one format.
extern bool g_full_checks;

template <bool kFull>
BRK_INLINE uintptr_t encode_link_as(const Block* next, const Block* at) {
  if (!kFull) return reinterpret_cast<uintptr_t>(next);
  return reinterpret_cast<uintptr_t>(next) ^ (reinterpret_cast<uintptr_t>(at) >> 4) ^ g_secrets.link;
}
template <bool kFull>
BRK_INLINE Block* decode_link_as(const Block* at) {
  if (!kFull) return reinterpret_cast<Block*>(at->link);
  return reinterpret_cast<Block*>(at->link ^ (reinterpret_cast<uintptr_t>(at) >> 4) ^ g_secrets.link);
}
// For the slow paths, whichever the mode.
BRK_INLINE uintptr_t encode_link(const Block* next, const Block* at) {
  return g_full_checks ? encode_link_as<true>(next, at) : encode_link_as<false>(next, at);
}
BRK_INLINE Block* decode_link(const Block* at) {
  return g_full_checks ? decode_link_as<true>(at) : decode_link_as<false>(at);
}
BRK_INLINE uintptr_t free_mark(const Block* b) { return g_secrets.mark ^ reinterpret_cast<uintptr_t>(b); }
// One bit apart, so that "free in any way" is one compare: (mark ^ free_mark(b)) <= 1.
BRK_INLINE uintptr_t remote_mark(const Block* b) { return free_mark(b) ^ 1; }
BRK_INLINE bool marked_free(const Block* b) { return (b->mark ^ free_mark(b)) <= 1; }

// 128-byte aligned: records sit side by side in meta.cc's chunks, and two threads' current spans must not
// share a cache line (or an adjacent-line prefetch pair), or every malloc/free of one thread would steal
// the other's line.
//
// Two lines by who writes them. The first is the owner's: its fast paths write free and used on every
// malloc and free, its slow paths the rest. The second is read-mostly: everything a free from any thread
// reads to find and check a block (owner, start, limit, block size, division magic), written when the
// span is set up and when the owner carves more blocks (limit, once per page of blocks). A free from
// another thread therefore reads only a line the owner keeps shared, and never takes the owner's hot
// line away from it (the owner's remote-free lists are written in batches: remote_free.h).
struct alignas(128) Span {
  // Line 0: the owner's.
  Block* free;          // blocks ready to hand out
  uint32_t used;        // relaxed atomic: written by the owner only, read by reclaimers
  uint32_t event_used;  // relaxed atomic: the owner's free calls heap_span_event when used falls to this
  uint32_t rfreed;      // under the owner heap's lock
  uint8_t full;         // on the owner's full list
  uint8_t pad_[3];
  Span* next;           // in the owner's class list, or an arena bin
  Span* prev;
  union {
    struct {              // free runs (arena.cc)
      Span* dirty_next;   // the purge queue, oldest first
      Span* dirty_prev;
      uint64_t freed_ms;  // when the pages became free
    };
    struct {              // small spans (heap.cc, remote_free.cc)
      Block* thread_free;  // atomic: blocks freed by other threads, pending (pushed in batches)
      Span* remote_next;   // in the owner heap's remote_spans list while thread_free is not empty
      Block* collected;    // under the owner's lock: pending blocks taken off thread_free
    };
  };
  // Line 1: read-mostly.
  union {
    size_t requested;       // large: the size asked for (for statistics)
    Block* collected_tail;  // small (under the owner's lock; here only for room)
  };
  uintptr_t start;      // first block (small) or the user pointer (large)
  Heap* owner;          // small: the heap that may use free/used; others: nullptr
  uint32_t limit;       // bytes of blocks handed out at least once; offsets below it are in a block
  uint32_t block_size;
  uint64_t div_magic;   // offset -> block index by multiply (size_classes.h)
  uintptr_t base;       // first page of the span (large: of the mapping)
  size_t bytes;         // length of the span (large: of the mapping)
  SpanKind kind;
  uint8_t cls;
  uint8_t dirty;        // free span: pages may be resident; handed out: pages may hold old data
  uint8_t in_arena;     // large: an arena run rather than a mapping of its own
};
static_assert(offsetof(Span, requested) == 64, "the read-mostly fields start the second line");
static_assert(sizeof(Span) == 128, "one record per 128-byte pair of cache lines");

// An intrusive doubly linked list of spans (through next/prev), with a tail for FIFO use.
// No member initializers: a heap in fresh zeroed pages is not written where it is zero (heap.h).
struct SpanList {
  Span* head;
  Span* tail;
  size_t count;
  void push(Span* s) {
    ++count;
    s->prev = nullptr;
    s->next = head;
    if (head) head->prev = s; else tail = s;
    head = s;
  }
  void push_back(Span* s) {
    ++count;
    s->next = nullptr;
    s->prev = tail;
    if (tail) tail->next = s; else head = s;
    tail = s;
  }
  void remove(Span* s) {
    --count;
    if (s->prev) s->prev->next = s->next; else head = s->next;
    if (s->next) s->next->prev = s->prev; else tail = s->prev;
    s->next = s->prev = nullptr;
  }
  Span* pop() {
    Span* s = head;
    if (s) remove(s);
    return s;
  }
};

}  // namespace brkmalloc

#endif
