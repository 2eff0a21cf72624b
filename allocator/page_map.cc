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

PageMapLeaf* leaf_for(uintptr_t a, bool create) {
  size_t i = (a >> (kPageShift + kLeafBits)) & ((size_t{1} << kRootBits) - 1);
  PageMapLeaf* leaf = g_page_map[i].load(std::memory_order_acquire);
  if (leaf || !create) return leaf;
  LockGuard g(g_page_map_lock);
  leaf = g_page_map[i].load(std::memory_order_relaxed);
  if (!leaf) {
    leaf = static_cast<PageMapLeaf*>(os::map(kLeafBytes, kPageSize));
    if (leaf) g_page_map[i].store(leaf, std::memory_order_release);
  }
  return leaf;
}

}  // namespace

bool page_map_prepare(uintptr_t start, size_t bytes) {
  uintptr_t leaf_span = uintptr_t{1} << (kPageShift + kLeafBits);
  for (uintptr_t a = start & ~(leaf_span - 1); a < start + bytes; a += leaf_span)
    if (!leaf_for(a, true)) return false;
  return true;
}

bool page_map_set(uintptr_t start, size_t bytes, Span* s) {
  if (s && !page_map_prepare(start, bytes)) return false;
  for (uintptr_t a = start; a < start + bytes; a += kPageSize) {
    PageMapLeaf* leaf = leaf_for(a, false);
    if (leaf) leaf[(a >> kPageShift) & ((size_t{1} << kLeafBits) - 1)].store(s, std::memory_order_relaxed);
  }
  return true;
}

}  // namespace brkmalloc
