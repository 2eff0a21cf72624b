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

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the futex word is the low half of the lock word");

namespace brkmalloc {

extern __thread uint64_t tls_lock_token BRK_TLS;
// Even (8-byte aligned), so bit 0 of a lock word is free for "sleepers may wait".
BRK_INLINE uint64_t lock_self() { return reinterpret_cast<uintptr_t>(&tls_lock_token); }

class Lock {
 public:
  // One word holds the holder's token (0: free) and the sleepers bit, so a signal handler that interrupts
  // lock or unlock sees either "held by me" or "free", never a held lock without its holder.
  void lock() {
    uint64_t free_word = 0;
    if (BRK_UNLIKELY(!word_.compare_exchange_strong(free_word, lock_self(), std::memory_order_acquire,
                                                    std::memory_order_relaxed)))
      lock_slow();
  }
  bool try_lock() {
    uint64_t free_word = 0;
    return word_.compare_exchange_strong(free_word, lock_self(), std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void unlock() {
    if (word_.exchange(0, std::memory_order_release) & 1) wake();
  }
  // Only the holder can see its own token here, so a relaxed read is exact for the question it answers.
  bool held_by_me() const { return (word_.load(std::memory_order_relaxed) & ~uint64_t{1}) == lock_self(); }
  bool is_locked() const { return word_.load(std::memory_order_relaxed) != 0; }
  // A few tries, for fork's prepare when its thread is inside an allocator section already (fork.cc).
  bool try_lock_briefly() {
    for (int i = 0; i < 2000; ++i) {
      if (try_lock()) return true;
      __builtin_ia32_pause();
    }
    return false;
  }

 private:
  void lock_slow();
  void wake();
  std::atomic<uint64_t> word_{0};  // holder's token | 1 if sleepers may wait; 0 when free
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
