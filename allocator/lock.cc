// The futex lock's slow half (see lock.h).
#include "allocator/lock.h"

#include "allocator/os.h"

namespace brkmalloc {

__thread uint64_t tls_lock_token BRK_TLS;

namespace {
// The futex is the low 32 bits of the word (x86-64 is little-endian).
const uint32_t* futex_of(const std::atomic<uint64_t>* w) { return reinterpret_cast<const uint32_t*>(w); }
}  // namespace

void Lock::lock_slow() {
  const uint64_t self = lock_self();
  // Critical sections are a few hundred instructions: a short spin usually sees the holder leave.
  for (int i = 0; i < 100; ++i) {
    __builtin_ia32_pause();
    uint64_t w = 0;
    if (word_.load(std::memory_order_relaxed) == 0 &&
        word_.compare_exchange_weak(w, self, std::memory_order_acquire, std::memory_order_relaxed))
      return;
  }
  // Then sleep, with the sleepers bit set so that the holder wakes one of us when it leaves; a woken
  // thread takes the lock with the bit set, as others may still sleep.
  for (;;) {
    uint64_t w = word_.load(std::memory_order_relaxed);
    if (w == 0) {
      if (word_.compare_exchange_weak(w, self | 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
      continue;
    }
    if (!(w & 1) && !word_.compare_exchange_weak(w, w | 1, std::memory_order_relaxed, std::memory_order_relaxed))
      continue;
    os::wait_on(futex_of(&word_), uint32_t(w | 1), ~uint64_t{0});
  }
}

void Lock::wake() { os::wake(futex_of(&word_)); }

}  // namespace brkmalloc
