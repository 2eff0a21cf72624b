// Heap slow paths: refilling from spans and the arena, remote frees through inboxes, thread start and
// exit, the heap pool, the shared heap for threads past their exit, and fork (see heap.h).
#include "allocator/heap.h"

#include <new>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>

#include "allocator/arena.h"
#include "allocator/large.h"
#include "allocator/lock.h"
#include "allocator/meta.h"
#include "allocator/options.h"
#include "allocator/os.h"
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
Lock g_pool_lock;    // g_pool and g_heaps_created

namespace {

enum ThreadState : uint8_t { kNew = 0, kStarting = 1, kActive = 2, kDead = 3 };
__thread ThreadState tls_state BRK_TLS = kNew;

Heap g_shared_heap{&g_empty_span};
Heap* g_pool;           // heaps of exited threads, ready for new ones
size_t g_heaps_created;
pthread_key_t g_exit_key;

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
  s->full = 0;
  s->cls = uint8_t(cls);
  s->free = nullptr;
  s->owner = h;
  return s;
}

void span_release(Heap* h, Span* s) {
  (void)h;
  s->free = nullptr;
  arena_free(s);
}

void span_event(Heap* h, Span* s);

// Puts a checked block on its span's free list, as the span's owner (the slow paths' counterpart of
// heap_free's inline push). True when the span became empty or stopped being full.
bool push_free(Span* s, Block* b) {
  b->mark = free_mark(b);
  b->link = encode_link(s->free, b);
  s->free = b;
  return --s->used == 0 || s->full;
}

// Frees a block that came back through the inbox, as its owner.
void free_returned(Heap* h, Block* b) {
  Span* s = page_map_lookup(b);
  if (!s || s->kind != kSmall || s->owner != h || !block_start(s, b) || b->mark != remote_mark(b))
    fatal_corrupt(b);
  if (push_free(s, b)) span_event(h, s);
}

void heap_drain(Heap* h) {
  if (!h->inbox.load(std::memory_order_relaxed)) return;
  Block* b = h->inbox.exchange(nullptr, std::memory_order_acquire);
  while (b) {
    Block* next = decode_link(b);
    free_returned(h, b);
    b = next;
  }
}

// Returns what a heap holds that nobody uses: inbox blocks, and current spans with no block in use.
void heap_collect(Heap* h) {
  heap_drain(h);
  h->idle_big = nullptr;
  for (unsigned c = 0; c < kNumClasses; ++c) {
    Span* s = h->current[c];
    if (s != &g_empty_span && s->used == 0) {
      h->current[c] = &g_empty_span;
      span_release(h, s);
    }
  }
}

void thread_exit(void* arg) {
  Heap* h = static_cast<Heap*>(arg);
  heap_collect(h);
  tls_heap = &g_empty_heap;
  tls_fast_owner = &g_empty_heap;
  tls_state = kDead;
  LockGuard g(g_pool_lock);
  h->pool_next = g_pool;
  g_pool = h;
}

Heap* heap_acquire() {
  {
    LockGuard g(g_pool_lock);
    if (Heap* h = g_pool) {
      g_pool = h->pool_next;
      h->pool_next = nullptr;
      return h;
    }
  }
  void* mem = os::map(align_up(sizeof(Heap), kPageSize), kPageSize);
  if (!mem) return nullptr;
  LockGuard g(g_pool_lock);
  ++g_heaps_created;
  return new (mem) Heap(&g_empty_span);
}

void* shared_alloc(unsigned cls) {
  LockGuard g(g_shared_lock);
  return heap_alloc(&g_shared_heap, cls);
}

// The first allocation of a thread (or of the process) lands here.
BRK_NOINLINE void* alloc_without_heap(unsigned cls) {
  if (tls_state != kNew) return shared_alloc(cls);  // exited, or re-entered while starting
  tls_state = kStarting;
  runtime_init();
  Heap* h = heap_acquire();
  if (!h) {
    tls_state = kNew;
    return nullptr;
  }
  tls_heap = h;
  if (!g_full_checks) tls_fast_owner = h;
  tls_state = kActive;
  pthread_setspecific(g_exit_key, h);  // may allocate; this thread has its heap already
  runtime_init_late();
  return heap_alloc(h, cls);
}

}  // namespace

void secrets_init() {
  // The kernel's 16 random bytes for this process (not necessarily 8-byte aligned).
  uint64_t r[2] = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full};
  if (const void* random = reinterpret_cast<const void*>(getauxval(AT_RANDOM))) memcpy(r, random, sizeof r);
  uintptr_t local = reinterpret_cast<uintptr_t>(&local);
  g_secrets.link = r[0] ^ (local << 7);
  g_secrets.mark = r[1] ^ os::now_ms();
  if (!g_secrets.link) g_secrets.link = 0x9e3779b97f4a7c15ull;
  if (!g_secrets.mark) g_secrets.mark = 0xc2b2ae3d27d4eb4full;
}

void heap_thread_key_init() { pthread_key_create(&g_exit_key, thread_exit); }

void fatal_corrupt(const Block* b) { fatal_pointer("free list corrupted at", b); }
void* pop_corrupt(const Block* b) { fatal_corrupt(b); }

void* heap_refill(Heap* h, unsigned cls) {
  if (BRK_UNLIKELY(h == &g_empty_heap)) return alloc_without_heap(cls);
  heap_drain(h);
  Span* s = h->current[cls];
  if (s->free) return span_pop_any(s, s->free);
  if (s != &g_empty_span) {
    if (span_carve(s)) return span_pop_any(s, s->free);
    s->full = 1;
    h->full[cls].push(s);
  }
  s = h->avail[cls].pop();
  if (!s) s = span_new(h, cls);
  if (!s) {
    h->current[cls] = &g_empty_span;
    return nullptr;
  }
  h->current[cls] = s;
  if (!s->free) span_carve(s);
  if (h != &g_shared_heap) purger_start_if_requested();  // the shared heap is refilled under its lock
  return span_pop_any(s, s->free);
}

namespace {

// A span of h became empty or stopped being full. The caller may hold a lock (the shared heap's, or the
// pool's while collecting), so starting the purger is left to heap_span_event.
void span_event(Heap* h, Span* s) {
  unsigned cls = s->cls;
  if (s->full) {
    h->full[cls].remove(s);
    s->full = 0;
    h->avail[cls].push(s);
  }
  if (s->used == 0) {
    if (s != h->current[cls]) {
      h->avail[cls].remove(s);
      span_release(h, s);
    } else if (kClasses.info[cls].capacity == 1) {
      // A heap keeps at most one empty one-block span (64 KiB and up) as a current span: the latest,
      // so that malloc/free of one big size stays on the fast path. The one kept before goes back to
      // the arena, where any size can reuse its pages, instead of every big class holding its own.
      Span* old = h->idle_big;
      h->idle_big = s;
      if (old && old != s && old->owner == h && old->used == 0 && h->current[old->cls] == old) {
        h->current[old->cls] = &g_empty_span;
        span_release(h, old);
      }
    }
  }
}

}  // namespace

// From heap_free, called by the API with no lock held.
void heap_span_event(Heap* h, Span* s) {
  span_event(h, s);
  purger_start_if_requested();
}

void free_slow(void* p, Span* s) {
  if (!p) return;
  if (!s) fatal_pointer("free of invalid pointer", p);
  switch (s->kind) {
    case kLarge:
      if (p != reinterpret_cast<void*>(s->start)) fatal_pointer("free of invalid pointer", p);
      large_free(s);
      purger_start_if_requested();  // a large block served from arena pages leaves them dirty
      return;
    case kFree:
      // Pages we handed out once and got back (a free arena run, or a freed large block's first page).
      fatal_pointer("double free of", p);
    case kSmall:
      break;
  }
  if (!block_start(s, p)) fatal_pointer("free of invalid pointer", p);
  Block* b = static_cast<Block*>(p);
  if (b->mark == free_mark(b) || b->mark == remote_mark(b)) fatal_pointer("double free of", p);
  Heap* owner = s->owner;  // stable: the span cannot be released while this block is in use
  if (owner == tls_heap) {
    // Full checks: the owner's own free, now checked. (In the default mode the fast path took it.)
    if (push_free(s, b)) heap_span_event(owner, s);
    return;
  }
  b->mark = remote_mark(b);
  Block* head = owner->inbox.load(std::memory_order_relaxed);
  do {
    b->link = encode_link(head, b);
  } while (!owner->inbox.compare_exchange_weak(head, b, std::memory_order_release, std::memory_order_relaxed));
}

void heap_trim_all() {
  Heap* h = tls_heap;
  if (h != &g_empty_heap) heap_collect(h);
  {
    LockGuard g(g_pool_lock);
    for (Heap* p = g_pool; p; p = p->pool_next) heap_collect(p);
  }
  LockGuard g(g_shared_lock);
  heap_collect(&g_shared_heap);
}

size_t heap_count() {
  LockGuard g(g_pool_lock);
  return g_heaps_created;
}

}  // namespace brkmalloc
