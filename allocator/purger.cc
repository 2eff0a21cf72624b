// The background purge thread (see purger.h).
#include "allocator/purger.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "allocator/arena.h"
#include "allocator/fork_child.h"
#include "allocator/heap.h"
#include "allocator/options.h"
#include "allocator/os.h"

namespace brkmalloc {

std::atomic<bool> g_purger_requested{false};

namespace {

enum : int { kNone, kStarting, kRunning, kFailed };
std::atomic<int> g_state{kNone};
// Futex word, bumped when pages become dirty while the purger may be waiting without a time limit. The
// purger reads it before looking at the dirty list, so a bump in between makes its wait return at once.
uint32_t g_seq;
std::atomic<bool> g_idle{false};
std::atomic<bool> g_reclaim{false};  // a heap has pending remote frees
constexpr uint64_t kReclaimIntervalMs = 10;

void* purger_main(void*) {
  for (;;) {
    uint32_t seq = __atomic_load_n(&g_seq, __ATOMIC_ACQUIRE);
    g_idle.store(true, std::memory_order_seq_cst);
    bool reclaimed = false;
    if (g_reclaim.load(std::memory_order_relaxed) && g_reclaim.exchange(false)) {
      heap_reclaim_all(false);  // heaps busy at the moment are drained by their owners
      reclaimed = true;
    }
    uint64_t wait = arena_purge_due();
    // After a reclaim, stay awake a while: frees to idle heaps come in bursts, and one reclaim per
    // interval batches them (a remote free then never pays a wake-up).
    if (reclaimed && wait > kReclaimIntervalMs) wait = kReclaimIntervalMs;
    if (wait != ~uint64_t{0}) g_idle.store(false, std::memory_order_relaxed);
    // Runs freed within a few milliseconds of each other are purged together.
    os::wait_on(&g_seq, seq, wait == ~uint64_t{0} ? wait : wait + 5);
  }
  return nullptr;
}

}  // namespace

void purger_request() {
  int st = g_state.load(std::memory_order_relaxed);
  if (st == kRunning) {
    if (g_idle.load(std::memory_order_seq_cst) && g_idle.exchange(false)) {
      __atomic_fetch_add(&g_seq, 1, __ATOMIC_RELEASE);
      os::wake(&g_seq);
    }
  } else if (st == kNone && g_options.purge_thread && g_options.purge_delay_ms > 0) {
    g_purger_requested.store(true, std::memory_order_relaxed);
  }
}

void purger_request_reclaim() {
  if (g_reclaim.load(std::memory_order_relaxed)) return;
  g_reclaim.store(true, std::memory_order_relaxed);
  purger_request();
}

void purger_start_slow() {
  if (fork_child_stuck()) return;  // asked again by a later free
  g_purger_requested.store(false, std::memory_order_relaxed);
  int expected = kNone;
  if (!g_state.compare_exchange_strong(expected, kStarting)) return;
  // Every signal blocked while creating: the thread inherits the mask, so no signal meant for the
  // program is ever delivered to it.
  int saved_errno = errno;  // free keeps errno, and pthread_create may set it
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // A small stack, unless the program's static TLS (which glibc places in every thread's stack) does not
  // fit in it: then glibc's default size.
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_t t;
  bool ok = pthread_create(&t, &attr, purger_main, nullptr) == 0;
  if (!ok) {
    pthread_attr_destroy(&attr);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ok = pthread_create(&t, &attr, purger_main, nullptr) == 0;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved_errno;
  g_state.store(ok ? kRunning : kFailed, std::memory_order_release);
}

void purger_fork_child() {
  g_state.store(kNone, std::memory_order_relaxed);
  g_idle.store(false, std::memory_order_relaxed);
  // Not requested here: a child that only execs should not start a thread. Its next free that leaves
  // dirty pages asks for one.
  g_purger_requested.store(false, std::memory_order_relaxed);
}

}  // namespace brkmalloc
