// Frees from other threads: the freeing heap's foreign lists, batched returns to the owning spans, and
// the owner's drain (design and who may touch what: remote_free.h, heap.h).
#include "allocator/remote_free.h"

#include "allocator/heap_internal.h"
#include "allocator/purger.h"

namespace brkmalloc {

namespace {

// used of a foreign list when it holds its cap (minus the cap): the overflow test is one compare.
struct ForeignLimits {
  uint32_t at_cap[kNumClasses];
};
constexpr ForeignLimits make_limits() {
  ForeignLimits t{};
  for (unsigned c = 0; c < kNumClasses; ++c) t.at_cap[c] = 0u - foreign_cap(class_size_of(c));
  return t;
}
constexpr ForeignLimits kLimits = make_limits();

uint32_t foreign_len(const Span* f) { return 0u - __atomic_load_n(&f->used, __ATOMIC_RELAXED); }
void set_foreign_len(Span* f, uint32_t n) { __atomic_store_n(&f->used, 0u - n, __ATOMIC_RELAXED); }

// Pushes the chain head..tail (n blocks of span s, marked remote) onto s->thread_free with one CAS; the
// span's first pending chain also queues s on its heap, and the heap's first pending span asks the
// purger to look.
void push_chain(Span* s, Block* head, Block* tail) {
  Heap* h = s->owner;  // stable: the span cannot be given back while these blocks are pending
  Block* top = __atomic_load_n(&s->thread_free, __ATOMIC_RELAXED);
  do {
    tail->link = encode_link(top, tail);
  } while (!__atomic_compare_exchange_n(&s->thread_free, &top, head, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
  if (top) return;
  Span* first = h->remote_spans.load(std::memory_order_relaxed);
  do {
    s->remote_next = first;
  } while (!h->remote_spans.compare_exchange_weak(first, s, std::memory_order_release, std::memory_order_relaxed));
  if (!first) purger_request_reclaim();
}

// Sends every block of the plain-linked chain `b` back to its span, a CAS per span per group: blocks
// are grouped by span in a small table (lists usually hold blocks of few spans: the ones other threads
// are allocating from).
void send_home(Block* b) {
  constexpr int kGroups = 16;
  struct Group {
    Span* span;
    Block* head;
    Block* tail;
  } g[kGroups];
  int n = 0;
  while (b) {
    Block* next = reinterpret_cast<Block*>(b->link);
    Span* s = page_map_lookup(b);
    int i = 0;
    while (i < n && g[i].span != s) ++i;
    if (i == n) {
      if (n == kGroups) {  // table full: send the oldest group now
        push_chain(g[0].span, g[0].head, g[0].tail);
        for (int k = 1; k < n; ++k) g[k - 1] = g[k];
        i = --n;
      }
      g[n++] = {s, nullptr, b};
    }
    b->link = encode_link(g[i].head, b);
    g[i].head = b;
    b = next;
  }
  for (int i = 0; i < n; ++i) push_chain(g[i].span, g[i].head, g[i].tail);
}

// Sends every block of foreign list f home and empties it.
BRK_NOINLINE void foreign_send_all(Span* f) {
  Block* all = f->free;
  f->free = nullptr;
  set_foreign_len(f, 0);
  send_home(all);
}

BRK_NOINLINE void foreign_overflow(Span* f) {
  foreign_send_all(f);
  purger_start_if_requested();  // a span's first pending group may have asked for a reclaim
}

}  // namespace

// The default mode's free of another heap's block: checked as the local fast path checks, then pushed.
// Written so that the common case needs no stack frame (the rare cases leave by tail calls).
void free_other(void* p, Span* s) {
  Heap* me = tls_fast_owner;
  Block* b = static_cast<Block*>(p);
  // owner is set only on small spans (heap_free has tested s); the checking modes' tls_fast_owner is
  // &g_empty_heap.
  if (BRK_UNLIKELY(!s->owner || me == &g_empty_heap || s->block_size > kForeignMaxSize ||
                   !block_start(s, p) || marked_free(b)))
    return free_slow(p, s);
  unsigned cls = s->cls;
  Span* f = &me->foreign[cls];
  __atomic_store_n(&b->mark, remote_mark(b), __ATOMIC_RELAXED);
  __atomic_store_n(&b->link, reinterpret_cast<uintptr_t>(f->free), __ATOMIC_RELAXED);
  f->free = b;
  uint32_t used = f->used - 1;
  __atomic_store_n(&f->used, used, __ATOMIC_RELAXED);
  if (BRK_UNLIKELY(used == kLimits.at_cap[cls])) return foreign_overflow(f);
}

void remote_free(Span* s, Block* b) {
  b->mark = remote_mark(b);
  push_chain(s, b, b);
}

void foreign_flush_all(Heap* h) {
  if (!h->foreign) return;
  for (unsigned c = 0; c < kNumClasses; ++c) {
    Span* f = &h->foreign[c];
    if (f->free) foreign_send_all(f);
  }
}

void foreign_count(const Heap* h, size_t* blocks, size_t* bytes) {
  *blocks = *bytes = 0;
  if (!h->foreign) return;
  for (unsigned c = 0; c < kNumClasses; ++c) {
    size_t n = foreign_len(&h->foreign[c]);
    *blocks += n;
    *bytes += n * class_size(c);
  }
}

size_t drain_remote(Heap* h, bool own) {
  if (!h->remote_spans.load(std::memory_order_relaxed)) return 0;
  Span* list = h->remote_spans.exchange(nullptr, std::memory_order_acquire);
  size_t released = 0;
  while (Span* s = list) {
    list = s->remote_next;  // read before the exchange below lets a freer queue s again
    // Acquire the blocks' links; release our read of remote_next to the freer that queues s next.
    Block* b = __atomic_exchange_n(&s->thread_free, nullptr, __ATOMIC_ACQ_REL);
    uint32_t n = 0;
    while (b) {
      Block* next = decode_link(b);
      if (!s->collected) s->collected_tail = b;
      b->mark = free_mark(b);
      b->link = encode_link(s->collected, b);
      s->collected = b;
      b = next;
      ++n;
    }
    __atomic_store_n(&s->rfreed, s->rfreed + n, __ATOMIC_RELAXED);  // statistics read it without the lock
    released += span_settle(h, s, own);
  }
  return released;
}

}  // namespace brkmalloc
