// The futex lock's slow half (see lock.h).
#include "allocator/lock.h"

#include "allocator/os.h"

namespace brkmalloc {

__thread char tls_lock_token BRK_TLS;

void Lock::lock_slow() {
  // Critical sections are a few hundred instructions: a short spin usually sees the holder leave.
  for (int i = 0; i < 100; ++i) {
    __builtin_ia32_pause();
    uint32_t s = 0;
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(s, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
  }
  // Then sleep; state 2 tells the holder to wake someone when it leaves.
  while (state_.exchange(2, std::memory_order_acquire) != 0)
    os::wait_on(reinterpret_cast<const uint32_t*>(&state_), 2, ~uint64_t{0});
}

void Lock::wake() { os::wake(reinterpret_cast<const uint32_t*>(&state_)); }

}  // namespace brkmalloc
