// fork() from any thread, and from a signal handler.
//
// What the child needs: every structure behind a lock (arena runs, page-map leaves, span records, the heap
// pool, the shared heap, each heap's span lists) consistent, and every lock free unless the child's only thread is itself inside
// the section it guards. Per-thread heaps need nothing: only their owner writes them, and the child's one
// thread keeps its own; the heaps of the other threads are unreachable in the child (their memory stays
// mapped and unused, as under glibc, whose child also keeps the other threads' arenas as they were).
//
// How:
// - prepare takes the locks in the global order kLockOrder, waiting for other threads to leave their
//   sections. A lock the forking thread holds itself is skipped: that happens when a signal handler forks
//   while its thread was inside malloc (the section resumes when the handler returns, in parent and child
//   alike, and releases the lock there) or inside an outer fork's prepare. Which locks a prepare took is
//   recorded per thread and per nesting level, so parent and child release exactly those.
// - In a multi-threaded process prepare first takes stdio's list lock (_IO_list_lock, exported by glibc and
//   recursive). glibc's fork takes that lock after the atfork prepare handlers; a thread in fflush(NULL)
//   holds it while it waits for a FILE lock, and a thread holding a FILE lock (getline) may be waiting in
//   malloc for one of ours. Holding ours while we wait for the list lock would close that cycle (glibc bug
//   19431); taking the list lock first is the order glibc's own malloc uses. No code that holds one of our
//   locks ever waits for stdio. glibc releases the list lock in the parent and resets it in the child
//   whenever the process is multi-threaded, so the child does not release it again.
// - Signals are blocked on the forking thread from prepare to the parent/child handler, so a handler cannot
//   fork in the middle of our own fork handlers (glibc's tst-mallocfork); it runs right after them.
// - The child releases what prepare took and forgets the purger thread (started again on demand). If its
//   thread still holds a lock (it forked from a handler that interrupted malloc), the child allocates from
//   a region of its own until that section is done (fork_child.h).
#include <pthread.h>
#include <signal.h>

#include "allocator/fork_child.h"
#include "allocator/hardened.h"
#include "allocator/heap.h"
#include "allocator/lock.h"
#include "allocator/prof.h"
#include "allocator/purger.h"
#include "allocator/runtime.h"

extern "C" {
void _IO_list_lock(void);
void _IO_list_unlock(void);
extern char __libc_single_threaded;
}

namespace brkmalloc {

extern Lock g_init_lock, g_pool_lock, g_shared_lock, g_arena_lock, g_page_map_lock, g_meta_lock, g_prof_lock;

namespace {

// The global lock order: a thread holding one of these only ever takes later ones. The heaps' locks
// (heap.cc) come between g_shared_lock and g_arena_lock, at kHeapLocks.
// g_prof_lock (the heap profiler's, prof.h) is a leaf: nothing is taken or allocated under it. The
// hardened quarantine's shard locks (hardened_quarantine.cc) are leaves too, taken after all of these.
Lock* const kLockOrder[] = {&g_init_lock, &g_pool_lock, &g_shared_lock, &g_arena_lock, &g_page_map_lock,
                            &g_meta_lock, &g_prof_lock};
constexpr unsigned kNumLocks = sizeof kLockOrder / sizeof kLockOrder[0];
constexpr unsigned kHeapLocks = 3;
constexpr unsigned kMaxDepth = 8;  // forks nested in signal handlers; deeper ones take no lock at all

struct Taken {
  uint8_t locks;  // bit i: kLockOrder[i] taken by this prepare
  bool stdio;     // _IO_list_lock taken by this prepare
  sigset_t mask;  // the thread's signal mask before prepare
};
__thread unsigned tls_depth BRK_TLS;
__thread Taken tls_taken[kMaxDepth] BRK_TLS;

void prepare() {
  unsigned d = tls_depth++;
  if (d >= kMaxDepth) return;
  Taken t{0, false, {}};
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &t.mask);
  if (!__libc_single_threaded) {
    _IO_list_lock();
    t.stdio = true;
  }
  // A thread inside an allocator section (its signal handler forks) holds a lock out of order: waiting
  // for an earlier one could wait for a thread that waits for ours. It only tries; a lock it cannot get
  // stays held in the child, which then allocates on its own (fork_child.h).
  bool inside = heap_fork_any_held_by_me() || quarantine_fork_any_held_by_me();
  for (Lock* l : kLockOrder) inside |= l->held_by_me();
  for (unsigned i = 0; i < kNumLocks; ++i) {
    if (i == kHeapLocks) heap_fork_lock(d, inside);
    if (kLockOrder[i]->held_by_me()) continue;
    if (inside) {
      if (!kLockOrder[i]->try_lock_briefly()) continue;
    } else {
      kLockOrder[i]->lock();
    }
    t.locks |= uint8_t(1u << i);
  }
  quarantine_fork_lock(d, inside);
  tls_taken[d] = t;
}

Taken release() {
  unsigned d = --tls_depth;
  if (d >= kMaxDepth) return Taken{0, false, {}};
  Taken t = tls_taken[d];
  quarantine_fork_unlock(d);
  for (unsigned i = kNumLocks; i-- > 0;) {
    if (t.locks & (1u << i)) kLockOrder[i]->unlock();
    if (i == kHeapLocks) heap_fork_unlock(d);
  }
  return t;
}

void parent() {
  Taken t = release();
  if (t.stdio) _IO_list_unlock();
  if (tls_depth < kMaxDepth) pthread_sigmask(SIG_SETMASK, &t.mask, nullptr);
}

void child() {
  Taken t = release();  // the list lock was reset by glibc's fork
  purger_fork_child();
  prof_fork_child();
  // Still locked now: by this thread's interrupted section, or by a thread the child does not have.
  for (Lock* l : kLockOrder)
    if (l->is_locked()) fork_child_note_held(l);
  heap_fork_child_note_held();
  quarantine_fork_child_note_held();
  if (tls_depth < kMaxDepth) pthread_sigmask(SIG_SETMASK, &t.mask, nullptr);
}

}  // namespace

void fork_handlers_install() { pthread_atfork(prepare, parent, child); }

}  // namespace brkmalloc
