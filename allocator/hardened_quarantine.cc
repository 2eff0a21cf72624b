// The quarantine of the hardened mode: freed small blocks (already checked, zeroed and marked free) wait
// in a FIFO ring before they are really freed, so a dangling pointer's write lands in a block nobody
// owns, where the zero check finds it, instead of in the block's next owner.
//
// kShards rings, each with its own lock; a thread uses one (assigned round-robin at its first use), so
// up to kShards threads never wait for each other here (one global ring made mimalloc-bench larsonN 20x
// and larsonN-sized 52x slower than the default mode on 2 cores: every malloc and free of both threads
// took the same lock). A block may wait in another shard than its owner's: release frees it as any other
// thread's free would.
//
// Invariants, per shard: at most kSlots blocks and kBytes bytes wait (a block bigger than a quarter of
// kBytes is not kept at all); a block in a ring carries its free mark, so freeing it again is a double
// free and realloc of it an invalid pointer. malloc_trim empties every shard (quarantine_flush) and a
// thread's exit empties its own, so nothing waits for a thread that is gone. Each hardened malloc checks
// one block waiting in its shard (quarantine_audit, round-robin), so a write into a quarantined block is
// found while the program runs, even by a program that no longer frees.
// Who touches what: a shard's ring and counters only under its lock. Blocks are released with the lock
// dropped, and a holder takes no other lock, so the shard locks are leaves: fork.cc takes them last
// (quarantine_fork_lock).
#include <atomic>

#include "allocator/fork_child.h"
#include "allocator/hardened.h"
#include "allocator/lock.h"

namespace brkmalloc {

namespace {

constexpr unsigned kShards = 16;
constexpr size_t kSlots = 1024;
constexpr size_t kBytes = size_t{1} << 20;
constexpr size_t kAuditMax = 4096;

struct Entry {
  Block* b;
  size_t cap;
};

struct alignas(64) Shard {
  Lock lock;
  uint8_t fork_depth;  // fork.cc: the nesting level whose prepare took this lock, plus one
  size_t head, count, bytes;
  size_t cursor;  // the entry the next audit checks (an offset from head)
  Entry ring[kSlots];
};

// Zero-initialised .bss: a shard's pages are touched only once a thread uses it.
Shard g_shards[kShards];
std::atomic<unsigned> g_next_shard{0};
__thread Shard* tls_shard BRK_TLS;

Shard& my_shard() {
  Shard* s = tls_shard;
  if (BRK_UNLIKELY(!s)) s = tls_shard = &g_shards[g_next_shard.fetch_add(1, std::memory_order_relaxed) % kShards];
  return *s;
}

Entry pop_locked(Shard& q) {
  Entry e = q.ring[q.head];
  q.head = (q.head + 1) % kSlots;
  --q.count;
  q.bytes -= e.cap;
  return e;
}

void flush(Shard& q) {
  for (;;) {
    Entry e;
    {
      LockGuard g(q.lock);
      if (!q.count) return;
      e = pop_locked(q);
    }
    quarantine_release(e.b, e.cap);
  }
}

}  // namespace

// In the steady state the ring is full: the block that falls out is taken in the same critical section
// that puts the new one in, and released after the lock is dropped.
void quarantine_push(Block* b, size_t cap) {
  if (cap > kBytes / 4) return quarantine_release(b, cap);
  Shard& q = my_shard();
  for (;;) {
    constexpr int kOutMax = 8;
    Entry out[kOutMax];
    int n = 0;
    bool in = false;
    {
      LockGuard g(q.lock);
      while (n < kOutMax && (q.count == kSlots || q.bytes + cap > kBytes)) out[n++] = pop_locked(q);
      if (q.count < kSlots && q.bytes + cap <= kBytes) {
        q.ring[(q.head + q.count) % kSlots] = Entry{b, cap};
        ++q.count;
        q.bytes += cap;
        in = true;
      }
    }
    for (int i = 0; i < n; ++i) quarantine_release(out[i].b, out[i].cap);
    if (in) return;
  }
}

// It reads a block's first 256 bytes only (quarantine_check), and blocks above kAuditMax not at all: they
// are checked in full when they leave. A report aborts with the lock held: nothing to unlock. A forked
// child whose shard lock was held by a thread it does not have skips the audit (fork_child.h).
void quarantine_audit() {
  if (fork_child_stuck()) return;
  Shard& q = my_shard();
  LockGuard g(q.lock);
  if (!q.count) return;
  if (++q.cursor >= q.count) q.cursor = 0;
  size_t i = q.head + q.cursor;
  const Entry& e = q.ring[i >= kSlots ? i - kSlots : i];
  if (e.cap <= kAuditMax) quarantine_check(e.b, e.cap, true);
}

// A forked child whose shard locks may be held by threads it does not have leaves the rings as they are.
void quarantine_flush() {
  if (fork_child_stuck()) return;
  for (Shard& q : g_shards) flush(q);
}

void quarantine_thread_exit() {
  if (tls_shard && !fork_child_stuck()) flush(*tls_shard);
}

void quarantine_fork_lock(unsigned depth, bool try_only) {
  for (Shard& q : g_shards) {
    if (q.lock.held_by_me()) continue;
    if (try_only) {
      if (!q.lock.try_lock_briefly()) continue;
    } else {
      q.lock.lock();
    }
    q.fork_depth = uint8_t(depth + 1);
  }
}

bool quarantine_fork_any_held_by_me() {
  for (const Shard& q : g_shards)
    if (q.lock.held_by_me()) return true;
  return false;
}

void quarantine_fork_unlock(unsigned depth) {
  for (unsigned i = kShards; i-- > 0;) {
    Shard& q = g_shards[i];
    if (q.fork_depth != depth + 1) continue;
    q.fork_depth = 0;
    q.lock.unlock();
  }
}

void quarantine_fork_child_note_held() {
  for (Shard& q : g_shards)
    if (q.lock.is_locked()) fork_child_note_held(&q.lock);
}

}  // namespace brkmalloc
