// Heap slow paths of the owner: refilling from spans and the arena, span places (current, avail, full)
// and the events that move spans between them, and the checked free (see heap.h for who may touch
// what). Frees from other threads are in remote_free.cc; thread start and exit, the pool and reclaiming
// in heap_life.cc.
#include "allocator/heap.h"

#include <string.h>
#include <sys/auxv.h>

#include "allocator/arena.h"
#include "allocator/fork_child.h"
#include "allocator/hardened.h"
#include "allocator/heap_internal.h"
#include "allocator/large.h"
#include "allocator/meta.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/prof.h"
#include "allocator/purger.h"
#include "allocator/runtime.h"

namespace brkmalloc {

Secrets g_secrets;
Span g_empty_span{};
Heap g_empty_heap{&g_empty_span};
__thread Heap* tls_heap BRK_TLS = &g_empty_heap;
__thread Heap* tls_fast_owner BRK_TLS = &g_empty_heap;
bool g_full_checks = false;
Lock g_shared_lock;  // the shared heap (threads past their exit)
Heap g_shared_heap{&g_empty_span};

namespace {

constexpr uint32_t kNever = ~uint32_t{0};

uint32_t capacity_of(const Span* s) { return kClasses.info[s->cls].capacity; }
// A full span is worth refilling from once this many blocks are free. While a class has few full spans, a
// quarter (at least one): a refill is worth its cost, and the heap is small, so what waits in full spans
// is too. Once it has many (kLeanFullSpans), a sixteenth: in a heap of a million live blocks a quarter
// left about an eighth of every full span's blocks waiting unused (random replacement at 1 M live blocks:
// peak RSS 342 MiB against 294 MiB with a sixteenth; glibc 277 MiB), while the extra refills cost about 7
// instructions per malloc there (callgrind, bench/replace --mode=live1m).
constexpr size_t kLeanFullSpans = 16;
uint32_t reuse_quota(const Heap* h, unsigned cls, uint32_t cap) {
  uint32_t div = h->full[cls].count > kLeanFullSpans ? 16 : 4;
  return cap >= div ? cap / div : 1;
}
uint32_t live_of(const Span* s) { return __atomic_load_n(&s->used, __ATOMIC_RELAXED) - s->rfreed; }
void set_event(Span* s, uint32_t v) { __atomic_store_n(&s->event_used, v, __ATOMIC_RELAXED); }

// The event a span waits for, from its place (under the heap lock): see heap.h.
void arm(Heap* h, Span* s) {
  uint32_t cap = capacity_of(s);
  if (is_current(h, s)) set_event(s, cap == 1 ? s->rfreed : kNever);
  else if (s->full) set_event(s, s->rfreed + cap - reuse_quota(h, s->cls, cap));
  else set_event(s, s->rfreed);
}

// Carves the next batch of never-used blocks of s onto its (empty) free list. False if none are left.
bool span_carve(Span* s) {
  const ClassInfo& ci = kClasses.info[s->cls];
  size_t end = size_t(ci.capacity) * ci.size;
  if (s->limit >= end) return false;
  size_t n = (end - s->limit) / ci.size;
  size_t batch = kPageSize / ci.size;
  if (batch < 1) batch = 1;
  if (n > batch) n = batch;
  Block* head = s->free;
  for (size_t i = n; i-- > 0;) {
    Block* b = reinterpret_cast<Block*>(s->start + s->limit + i * ci.size);
    b->link = encode_link(head, b);
    b->mark = free_mark(b);
    head = b;
  }
  s->free = head;
  __atomic_store_n(&s->limit, s->limit + uint32_t(n * ci.size), __ATOMIC_RELAXED);
  return true;
}

Span* span_new(Heap* h, unsigned cls) {
  const ClassInfo& ci = kClasses.info[cls];
  Span* s = arena_alloc(ci.pages, kSmall);
  if (!s) return nullptr;
  s->start = s->base;
  s->limit = 0;
  s->block_size = ci.size;
  s->div_magic = ci.div_magic;
  s->used = 0;
  s->rfreed = 0;
  s->full = 0;
  s->cls = uint8_t(cls);
  s->free = nullptr;
  s->thread_free = nullptr;
  s->remote_next = nullptr;
  s->collected = nullptr;
  s->collected_tail = nullptr;
  s->owner = h;
  // The arena registered the first and last page; a free of a block on any other page needs its own.
  if (ci.capacity > 1) page_map_set(s->base + kPageSize, s->bytes - 2 * kPageSize, s);
  return s;
}

// Unlinks a span with no live block from its list and gives it back (under h->lock).
void span_release(Heap* h, Span* s) {
  if (s->full) h->full[s->cls].remove(s); else h->avail[s->cls].remove(s);
  s->free = nullptr;
  arena_free(s);
}

}  // namespace

// The owner moves a span's collected blocks onto its free list (under h->lock).
void take_collected(Span* s) {
  if (!s->collected) return;
  s->collected_tail->link = encode_link(s->free, s->collected_tail);
  s->free = s->collected;
  s->collected = s->collected_tail = nullptr;
  __atomic_store_n(&s->used, s->used - s->rfreed, __ATOMIC_RELAXED);
  __atomic_store_n(&s->rfreed, 0u, __ATOMIC_RELAXED);
}

// Re-decides a non-current span's place once its live count fell (under h->lock; by the owner or a
// reclaimer). Live blocks of a non-current span only ever decrease, so a decision taken on a stale count
// stays right.
// `own`: the caller is the heap's owner (or the heap has none), so it may change current[]. True when s
// went back to the arena (its record may then be reused at once: the caller must not read it).
bool span_settle(Heap* h, Span* s, bool own) {
  unsigned cls = s->cls;
  if (is_current(h, s)) {
    if (own && capacity_of(s) == 1 && live_of(s) == 0) {
      // A heap keeps at most one empty one-block span (64 KiB and up) as a current span: the latest,
      // so that malloc/free of one big size stays on the fast path. The one kept before goes back to the
      // arena, where any size can reuse its pages, instead of every big class holding its own.
      Span* old = h->idle_big;
      h->idle_big = s;
      if (old && old != s && h->current[old->cls] == old && live_of(old) == 0) {
        set_current(h, old->cls, &g_empty_span);
        arena_free(old);
      }
    }
    arm(h, s);
    return false;
  }
  uint32_t live = live_of(s), cap = capacity_of(s);
  if (live == 0) {
    span_release(h, s);
    return true;
  }
  if (s->full && cap - live >= reuse_quota(h, cls, cap)) {
    h->full[cls].remove(s);
    s->full = 0;
    h->avail[cls].push_back(s);
  }
  arm(h, s);
  return false;
}

void secrets_init() {
  // The kernel's 16 random bytes for this process (not necessarily 8-byte aligned).
  uint64_t r[2] = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full};
  if (const void* random = reinterpret_cast<const void*>(getauxval(AT_RANDOM))) memcpy(r, random, sizeof r);
  uintptr_t local = reinterpret_cast<uintptr_t>(&local);
  g_secrets.link = r[0] ^ (local << 7);
  g_secrets.mark = (r[1] ^ os::now_ms()) & ~uintptr_t{1};  // bit 0 tells free from pending (span.h)
  if (!g_secrets.link) g_secrets.link = 0x9e3779b97f4a7c15ull;
  if (!g_secrets.mark) g_secrets.mark = 0xc2b2ae3d27d4eb4eull;
}

void fatal_corrupt(const Block* b) { fatal_pointer("free list corrupted at", b); }
void* pop_corrupt(const Block* b) { fatal_corrupt(b); }

void* heap_refill(Heap* h, unsigned cls) {
  if (fork_child_stuck()) return fork_child_alloc(class_size(cls), kMinAlign);
  if (BRK_UNLIKELY(h == &g_empty_heap)) return alloc_without_heap(cls);
  void* p;
  {
    LockGuard g(h->lock);
    drain_remote(h, true);
    Span* s = h->current[cls];
    if (s != &g_empty_span) {
      if (!s->free) take_collected(s);
      if (s->free || span_carve(s)) return span_pop_any(s, s->free);
      // Exhausted: it waits on the full list until a quarter of it is free again.
      s->full = 1;
      h->full[cls].push_back(s);
      set_current(h, cls, &g_empty_span);
      arm(h, s);
    }
    // The oldest span with room first (spans that regain blocks later get time to regain more).
    while ((s = h->avail[cls].pop())) {
      take_collected(s);
      if (s->free || span_carve(s)) break;
      s->full = 1;  // its free blocks are still pending on thread_free
      h->full[cls].push_back(s);
      arm(h, s);
    }
    if (!s && !(s = span_new(h, cls))) return nullptr;
    if (!s->free) span_carve(s);
    set_current(h, cls, s);
    arm(h, s);
    p = span_pop_any(s, s->free);
  }
  if (h != &g_shared_heap) purger_start_if_requested();  // the shared heap is refilled under its lock
  return p;
}

// From heap_free, called by the API with no lock held.
void heap_span_event(Heap* h, Span* s) {
  if (fork_child_stuck()) return;  // settled on a later event, or by a reclaim
  {
    LockGuard g(h->lock);
    span_settle(h, s, true);
  }
  purger_start_if_requested();
}

namespace {

// The checked free, inlined into both callers: as a call of its own it cost the full mode 12
// instructions per malloc+free pair (bench/checks_cost.sh).
BRK_INLINE void free_body(void* p, Span* s) {
  if (!p || fork_child_owns(p)) return;
  if (!s) fatal_pointer("free of invalid pointer", p);
  switch (s->kind) {
    case kLarge:
      if (p != reinterpret_cast<void*>(s->start)) fatal_pointer("free of invalid pointer", p);
      if (fork_child_stuck()) return;  // kept: giving it back needs a lock this thread holds
      prof_forget(p);  // a sampled block is a large one of its own (prof.h)
      large_free(s);
      purger_start_if_requested();  // a large block served from arena pages leaves them dirty
      return;
    case kFree:
      // Pages we handed out once and got back (a free arena run, or a freed mapped block's first page);
      // an entry inside a block may be stale (arena.h), so only a run that holds p proves a double free.
      if (s->bytes && (uintptr_t(p) - s->base >= s->bytes)) fatal_pointer("free of invalid pointer", p);
      fatal_pointer("double free of", p);
    case kSmall:
      break;
  }
  if (!block_start(s, p)) fatal_pointer("free of invalid pointer", p);
  Block* b = static_cast<Block*>(p);
  if (marked_free(b)) fatal_pointer("double free of", p);
  // glibc's perturb byte: a freed block reads as it (beyond the two words the free lists use).
  if (int perturb = __atomic_load_n(&g_options.perturb, __ATOMIC_RELAXED)) memset(p, perturb, s->block_size);
  Heap* owner = s->owner;  // stable: the span cannot be released while this block is in use
  if (owner != tls_heap) {
    remote_free(s, b);  // the checking modes, and classes too large for the foreign lists
    purger_start_if_requested();  // a reclaim may have been asked for
    return;
  }
  // Full checks: the owner's own free, now checked. (In the default mode the fast path took it.)
  b->mark = free_mark(b);
  b->link = encode_link(s->free, b);
  s->free = b;
  uint32_t used = s->used - 1;
  __atomic_store_n(&s->used, used, __ATOMIC_RELAXED);
  if (used == __atomic_load_n(&s->event_used, __ATOMIC_RELAXED)) heap_span_event(owner, s);
}

}  // namespace

void free_slow(void* p, Span* s) {
  if (BRK_UNLIKELY(g_hardened)) return hardened_free(p, s);  // canaries, zero-on-free, quarantine
  free_body(p, s);
}

void free_checked(void* p, Span* s) { free_body(p, s); }

}  // namespace brkmalloc
