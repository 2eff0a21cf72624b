// A spin-then-yield lock for the allocator's slow paths (arena, large objects, heap pool, metadata).
// It never allocates and is trivially constructed, so it works before any constructor runs; fork.cc
// takes every lock before fork() and resets them in the child.
#ifndef BRK_LOCK_H
#define BRK_LOCK_H

#include <atomic>
#include <sched.h>

namespace brkmalloc {

class SpinLock {
 public:
  void lock() {
    for (int spins = 0; flag_.exchange(true, std::memory_order_acquire); ++spins) {
      while (flag_.load(std::memory_order_relaxed)) {
        if (++spins > 64) sched_yield(); else __builtin_ia32_pause();
      }
    }
  }
  void unlock() { flag_.store(false, std::memory_order_release); }
  // Only for the child after fork(): the thread that held the lock no longer exists.
  void reset() { flag_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> flag_{false};
};

class LockGuard {
 public:
  explicit LockGuard(SpinLock& l) : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace brkmalloc

#endif
