// Page map storage and updates (see page_map.h). Leaves are created under a lock and published with a
// release store; lookups are lock-free.
#include "allocator/page_map.h"

#include "allocator/lock.h"
#include "allocator/os.h"

namespace brkmalloc {

std::atomic<PageMapLeaf*> g_page_map[size_t{1} << kRootBits];
Lock g_page_map_lock;

namespace {

constexpr size_t kLeafBytes = sizeof(PageMapLeaf) << kLeafBits;
static_assert(sizeof(PageMapLeaf) == sizeof(Span*), "a leaf is mapped zeroed: a null entry is all-zero bytes");

PageMapLeaf* g_spare;  // under g_page_map_lock

PageMapLeaf* leaf_for(uintptr_t a, bool create) {
  size_t i = (a >> (kPageShift + kLeafBits)) & ((size_t{1} << kRootBits) - 1);
  PageMapLeaf* leaf = g_page_map[i].load(std::memory_order_acquire);
  if (leaf || !create) return leaf;
  LockGuard g(g_page_map_lock);
  leaf = g_page_map[i].load(std::memory_order_relaxed);
  if (!leaf) {
    leaf = static_cast<PageMapLeaf*>(os::map(kLeafBytes, kPageSize));
    if (!leaf) {  // out of address space: the spare kept for moves that must not fail
      leaf = g_spare;
      g_spare = nullptr;
    }
    if (leaf) g_page_map[i].store(leaf, std::memory_order_release);
  }
  return leaf;
}

}  // namespace

bool page_map_keep_spare() {
  LockGuard g(g_page_map_lock);
  if (!g_spare) g_spare = static_cast<PageMapLeaf*>(os::map(kLeafBytes, kPageSize));
  return g_spare != nullptr;
}

bool page_map_prepare(uintptr_t start, size_t bytes) {
  uintptr_t leaf_span = uintptr_t{1} << (kPageShift + kLeafBits);
  for (uintptr_t a = start & ~(leaf_span - 1); a < start + bytes; a += leaf_span)
    if (!leaf_for(a, true)) return false;
  return true;
}

// One leaf lookup per leaf, then a run of stores: a span of n pages costs n stores, not n root lookups.
bool page_map_set(uintptr_t start, size_t bytes, Span* s) {
  if (s && !page_map_prepare(start, bytes)) return false;
  constexpr size_t kMask = (size_t{1} << kLeafBits) - 1;
  uintptr_t end = start + bytes;
  for (uintptr_t a = start; a < end;) {
    uintptr_t leaf_end = (a | ((uintptr_t{1} << (kPageShift + kLeafBits)) - 1)) + 1;
    uintptr_t stop = leaf_end < end ? leaf_end : end;
    if (PageMapLeaf* leaf = leaf_for(a, false)) {
      for (size_t i = (a >> kPageShift) & kMask, n = (stop - a + kPageSize - 1) >> kPageShift; n--; ++i)
        leaf[i].store(s, std::memory_order_relaxed);
    }
    a = stop;
  }
  return true;
}

}  // namespace brkmalloc
