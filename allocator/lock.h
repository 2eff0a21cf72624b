// The lock of the allocator's slow paths (arena, page-map leaves, span records, heap pool, shared heap).
//
// A futex lock, not a spinlock: it spins briefly, then sleeps in the kernel, so a holder preempted in an
// oversubscribed program costs its waiters a wake-up, not a time slice each. It never allocates and is
// all-zero when free, so it works before any constructor runs.
//
// It remembers its holder (a per-thread token: the address of a thread-local byte, which a forked child's
// only thread inherits unchanged), so that fork.cc can tell a lock held by the forking thread itself (fork
// from a signal handler that interrupted malloc, or fork's own prepare) from one held by another thread.
// Locks nest in one global order, listed in fork.cc; no code holding one of them waits for anything else
// (stdio, another program lock), which is what makes that order deadlock-free.
#ifndef BRK_LOCK_H
#define BRK_LOCK_H

#include <atomic>
#include <stdint.h>

#include "allocator/config.h"

namespace brkmalloc {

extern __thread char tls_lock_token BRK_TLS;
BRK_INLINE uintptr_t lock_self() { return reinterpret_cast<uintptr_t>(&tls_lock_token); }

class Lock {
 public:
  void lock() {
    uint32_t free_state = 0;
    if (BRK_UNLIKELY(!state_.compare_exchange_strong(free_state, 1, std::memory_order_acquire,
                                                     std::memory_order_relaxed)))
      lock_slow();
    owner_.store(lock_self(), std::memory_order_relaxed);
  }
  bool try_lock() {
    uint32_t free_state = 0;
    if (!state_.compare_exchange_strong(free_state, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return false;
    owner_.store(lock_self(), std::memory_order_relaxed);
    return true;
  }
  void unlock() {
    owner_.store(0, std::memory_order_relaxed);
    if (state_.exchange(0, std::memory_order_release) == 2) wake();
  }
  // Only the holder can see its own token here, so a relaxed read is exact for the question it answers.
  bool held_by_me() const { return owner_.load(std::memory_order_relaxed) == lock_self(); }

 private:
  void lock_slow();
  void wake();
  std::atomic<uint32_t> state_{0};  // 0 free, 1 held, 2 held with (possible) sleepers
  std::atomic<uintptr_t> owner_{0};
};

class LockGuard {
 public:
  explicit LockGuard(Lock& l) : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& l_;
};

}  // namespace brkmalloc

#endif
