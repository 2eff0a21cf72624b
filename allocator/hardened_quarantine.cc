// The quarantine of the hardened mode: freed small blocks (already checked, zeroed and marked free) wait
// in one global FIFO ring before they are really freed, so a dangling pointer's write lands in a block
// nobody owns, where the zero check finds it, instead of in the block's next owner.
//
// Invariants: at most kSlots blocks and kBytes bytes wait (a block bigger than a quarter of kBytes is
// not kept at all); a block in the ring carries its free mark, so freeing it again is a double free and
// realloc of it an invalid pointer. One ring for all threads: nothing is stranded at thread exit, and
// malloc_trim empties it (quarantine_flush). Each hardened malloc also checks one waiting block
// (quarantine_audit, round-robin), so a write into a quarantined block is found while the program runs,
// even by a program that no longer frees. The
// lock guards the ring only: blocks are released with it dropped, and its holder takes no other lock
// (fork.cc puts it last in the lock order).
#include "allocator/hardened.h"
#include "allocator/lock.h"

namespace brkmalloc {

Lock g_quarantine_lock;

namespace {

constexpr size_t kSlots = 1024;
constexpr size_t kBytes = size_t{1} << 20;
constexpr size_t kAuditMax = 4096;

struct Entry {
  Block* b;
  size_t cap;
};

Entry g_ring[kSlots];
size_t g_head, g_count, g_bytes;  // under g_quarantine_lock
size_t g_cursor;                  // the entry the next audit checks (an offset from g_head)

Entry pop_locked() {
  Entry e = g_ring[g_head];
  g_head = (g_head + 1) % kSlots;
  --g_count;
  g_bytes -= e.cap;
  return e;
}

}  // namespace

// Bigger blocks are checked only when they leave: scanning up to 256 KiB per malloc would cost more than
// the malloc. A report aborts with the lock held: nothing to unlock.
void quarantine_audit() {
  LockGuard g(g_quarantine_lock);
  if (!g_count) return;
  if (++g_cursor >= g_count) g_cursor = 0;
  size_t i = g_head + g_cursor;
  const Entry& e = g_ring[i >= kSlots ? i - kSlots : i];
  if (e.cap <= kAuditMax) quarantine_check(e.b, e.cap);
}

// In the steady state the ring is full: the block that falls out is taken in the same critical section
// that puts the new one in, and released after the lock is dropped.
void quarantine_push(Block* b, size_t cap) {
  if (cap > kBytes / 4) return quarantine_release(b, cap);
  for (;;) {
    constexpr int kOutMax = 8;
    Entry out[kOutMax];
    int n = 0;
    bool in = false;
    {
      LockGuard g(g_quarantine_lock);
      while (n < kOutMax && (g_count == kSlots || g_bytes + cap > kBytes)) out[n++] = pop_locked();
      if (g_count < kSlots && g_bytes + cap <= kBytes) {
        g_ring[(g_head + g_count) % kSlots] = Entry{b, cap};
        ++g_count;
        g_bytes += cap;
        in = true;
      }
    }
    for (int i = 0; i < n; ++i) quarantine_release(out[i].b, out[i].cap);
    if (in) return;
  }
}

void quarantine_flush() {
  for (;;) {
    Entry e;
    {
      LockGuard g(g_quarantine_lock);
      if (!g_count) return;
      e = pop_locked();
    }
    quarantine_release(e.b, e.cap);
  }
}

}  // namespace brkmalloc
