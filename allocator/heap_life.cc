// Heaps over the life of threads and of the process: a thread's first allocation (its heap, new or taken
// from the pool of exited threads' heaps), thread exit, the shared heap for threads past their exit,
// reclaiming what idle and exited heaps hold (malloc_trim, the purger), and the heaps' part of fork.
// Who may touch which field: heap.h.
#include <new>
#include <pthread.h>

#include "allocator/arena.h"
#include "allocator/fork_child.h"
#include "allocator/hardened.h"
#include "allocator/heap_internal.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/runtime.h"

namespace brkmalloc {

Lock g_pool_lock;  // g_pool, g_heaps_created and appends to g_all_heaps

namespace {

enum ThreadState : uint8_t { kNew = 0, kStarting = 1, kActive = 2, kDead = 3 };
__thread ThreadState tls_state BRK_TLS = kNew;

Heap* g_pool;                             // heaps of exited threads, ready for new ones
std::atomic<Heap*> g_all_heaps{nullptr};  // append-only, newest first
size_t g_heaps_created;
pthread_key_t g_exit_key;

// Gives back what a heap holds empty: remote frees, spans without live blocks, and, when nobody can be
// allocating from them (`own`: the caller is the owner, or the heap has none), empty current spans.
size_t heap_reclaim(Heap* h, bool own) {
  // Only the owner may empty its foreign lists (its free path pushes onto them without the lock); an exited
  // heap's were emptied at its exit.
  if (own) foreign_flush_all(h);
  size_t released = drain_remote(h, own);
  if (!own) return released;
  h->idle_big = nullptr;
  for (unsigned c = 0; c < kNumClasses; ++c) {
    Span* s = h->current[c];
    if (s == &g_empty_span) continue;
    take_collected(s);
    if (s->used == 0) {
      set_current(h, c, &g_empty_span);
      s->free = nullptr;
      arena_free(s);
      ++released;
    }
  }
  return released;
}

void thread_exit(void* arg) {
  Heap* h = static_cast<Heap*>(arg);
  if (g_hardened) quarantine_thread_exit();  // before the reclaim, so that the released blocks count
  {
    LockGuard g(h->lock);
    heap_reclaim(h, true);
    h->pooled = true;
  }
  tls_heap = &g_empty_heap;
  tls_fast_owner = &g_empty_heap;
  tls_state = kDead;
  LockGuard g(g_pool_lock);
  h->pool_next = g_pool;
  g_pool = h;
}

Heap* heap_acquire() {
  Heap* h = nullptr;
  {
    LockGuard g(g_pool_lock);
    if ((h = g_pool)) {
      g_pool = h->pool_next;
      h->pool_next = nullptr;
    }
  }
  if (h) {
    LockGuard g(h->lock);
    h->pooled = false;
    return h;
  }
  constexpr size_t kForeignAt = align_up(sizeof(Heap), alignof(Span));
  void* mem = os::map(align_up(kForeignAt + kNumClasses * sizeof(Span), kPageSize), kPageSize);
  if (!mem) return nullptr;
  h = new (mem) Heap(&g_empty_span, Heap::Zeroed{});
  h->foreign = reinterpret_cast<Span*>(static_cast<char*>(mem) + kForeignAt);  // zeroed: empty lists
  LockGuard g(g_pool_lock);
  ++g_heaps_created;
  h->all_next = g_all_heaps.load(std::memory_order_relaxed);
  g_all_heaps.store(h, std::memory_order_release);
  return h;
}

void* shared_alloc(unsigned cls) {
  LockGuard g(g_shared_lock);
  return heap_alloc(&g_shared_heap, cls);
}

}  // namespace

void heap_thread_key_init() { pthread_key_create(&g_exit_key, thread_exit); }

// The first allocation of a thread (or of the process) lands here.
void* alloc_without_heap(unsigned cls) {
  if (tls_state != kNew) return shared_alloc(cls);  // exited, or re-entered while starting
  tls_state = kStarting;
  runtime_init();
  Heap* h = heap_acquire();
  if (!h) {
    tls_state = kNew;
    return nullptr;
  }
  tls_heap = h;
  // Full checks and glibc's perturb byte send this thread's frees through free_slow.
  if (!g_full_checks && !__atomic_load_n(&g_options.perturb, __ATOMIC_RELAXED)) tls_fast_owner = h;
  tls_state = kActive;
  pthread_setspecific(g_exit_key, h);  // may allocate; this thread has its heap already
  runtime_init_late();
  return heap_alloc(h, cls);
}


size_t heap_reclaim_all(bool wait) {
  size_t released = 0;
  Heap* self = tls_heap;
  for (Heap* h = g_all_heaps.load(std::memory_order_acquire); h; h = h->all_next) {
    if (wait) h->lock.lock();
    else if (!h->lock.try_lock()) continue;
    released += heap_reclaim(h, h == self || h->pooled);
    h->lock.unlock();
  }
  if (wait) g_shared_lock.lock();
  else if (!g_shared_lock.try_lock()) return released;
  {
    LockGuard g(g_shared_heap.lock);
    released += heap_reclaim(&g_shared_heap, true);
  }
  g_shared_lock.unlock();
  return released;
}

void heap_for_each(void (*fn)(const Heap*, void*), void* ctx) {
  fn(&g_shared_heap, ctx);
  for (Heap* h = g_all_heaps.load(std::memory_order_acquire); h; h = h->all_next) fn(h, ctx);
}

size_t heap_count() {
  LockGuard g(g_pool_lock);
  return g_heaps_created;
}

void heap_fork_lock(unsigned depth, bool try_only) {
  auto take = [depth, try_only](Heap* h) {
    if (h->lock.held_by_me()) return;
    if (try_only) {
      if (!h->lock.try_lock_briefly()) return;
    } else {
      h->lock.lock();
    }
    h->fork_depth = uint8_t(depth + 1);
  };
  take(&g_shared_heap);
  for (Heap* h = g_all_heaps.load(std::memory_order_acquire); h; h = h->all_next) take(h);
}

bool heap_fork_any_held_by_me() {
  if (g_shared_heap.lock.held_by_me()) return true;
  for (Heap* h = g_all_heaps.load(std::memory_order_acquire); h; h = h->all_next)
    if (h->lock.held_by_me()) return true;
  return false;
}

void heap_fork_child_note_held() {
  for (Heap* h = g_all_heaps.load(std::memory_order_acquire); h; h = h->all_next)
    if (h->lock.is_locked()) fork_child_note_held(&h->lock);
  if (g_shared_heap.lock.is_locked()) fork_child_note_held(&g_shared_heap.lock);
}

void heap_fork_unlock(unsigned depth) {
  auto release = [depth](Heap* h) {
    if (h->fork_depth != depth + 1) return;
    h->fork_depth = 0;
    h->lock.unlock();
  };
  release(&g_shared_heap);
  for (Heap* h = g_all_heaps.load(std::memory_order_acquire); h; h = h->all_next) release(h);
}

}  // namespace brkmalloc
