// Zero-size blocks of the hardened mode: malloc(0) returns a unique 16-byte slot of a region reserved
// PROT_NONE (no memory behind it), so any read or write through the pointer faults (SIGSEGV) at once.
// A bitmap (a separate, lazily faulted mapping) says which slots are live: free clears the bit, and a
// clear bit is a double free. Slots are handed out round-robin, so a freed one comes back only after
// every other slot was tried: a stale pointer stays a double free for a long time. Lock-free: one atomic
// counter and atomic bit operations.
#include <atomic>

#include "allocator/hardened.h"
#include "allocator/os.h"
#include "allocator/report.h"

namespace brkmalloc {

namespace {

constexpr size_t kSlot = 16;
constexpr size_t kRegion = size_t{64} << 20;  // 4 Mi slots
constexpr size_t kSlots = kRegion / kSlot;

uintptr_t g_base;  // 0 if the region could not be reserved (then malloc(0) gets a small block)
std::atomic<uint64_t>* g_bits;
std::atomic<size_t> g_next{0};

}  // namespace

void zero_size_init() {
  void* region = os::reserve(kRegion, kPageSize);
  void* bits = region ? os::map(kSlots / 8, kPageSize) : nullptr;
  if (!bits) {
    if (region) os::unmap(region, kRegion);
    return;
  }
  g_bits = static_cast<std::atomic<uint64_t>*>(bits);
  g_base = reinterpret_cast<uintptr_t>(region);
}

bool zero_size_owns(const void* p) { return g_base && uintptr_t(p) - g_base < kRegion; }

void* zero_size_alloc() {
  if (!g_base) return nullptr;
  for (size_t tries = 0; tries < kSlots; ++tries) {
    size_t i = g_next.fetch_add(1, std::memory_order_relaxed) % kSlots;
    uint64_t bit = uint64_t{1} << (i % 64);
    if (!(g_bits[i / 64].fetch_or(bit, std::memory_order_relaxed) & bit))
      return reinterpret_cast<void*>(g_base + i * kSlot);
  }
  return nullptr;
}

bool zero_size_live(const void* p) {
  size_t off = uintptr_t(p) - g_base;
  if (off % kSlot) return false;
  size_t i = off / kSlot;
  return g_bits[i / 64].load(std::memory_order_relaxed) & (uint64_t{1} << (i % 64));
}

void zero_size_free(void* p) {
  size_t off = uintptr_t(p) - g_base;
  if (off % kSlot) fatal_pointer("free of invalid pointer", p);
  size_t i = off / kSlot;
  uint64_t bit = uint64_t{1} << (i % 64);
  if (!(g_bits[i / 64].fetch_and(~bit, std::memory_order_relaxed) & bit)) fatal_pointer("double free of", p);
}

}  // namespace brkmalloc
