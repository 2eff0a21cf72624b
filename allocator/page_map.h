// The page map: from any address, in O(1) and without locks, the span that owns its 4 KiB page, or
// nullptr if we never handed that page out. A two-level radix tree over the 47-bit address space:
// a 1 MiB root in .bss (untouched entries cost nothing) and 2 MiB leaves, mapped when first needed and
// never freed, so a reader never sees a leaf disappear. Spans of many small blocks set every page; free
// runs and one-block spans their first and last page (arena.h); a mapped large object only the page of its
// user pointer, so interior pointers into it are not found (after the
// block is freed that page points at a tombstone, so a second free reads as a double free).
// Entries are relaxed atomics: a plain load on x86-64, and a free racing with another thread's mapping
// of a neighbouring page is a defined read rather than a data race. The index keeps only the low 47
// bits, so a non-canonical address aliases a canonical one: callers range-check what they look up.
#ifndef BRK_PAGE_MAP_H
#define BRK_PAGE_MAP_H

#include <atomic>

#include "allocator/config.h"
#include "allocator/span.h"

namespace brkmalloc {

constexpr unsigned kLeafBits = 18;  // pages per leaf: 2^18 * 4 KiB = 1 GiB
constexpr unsigned kRootBits = kAddressBits - kPageShift - kLeafBits;

using PageMapLeaf = std::atomic<Span*>;
extern std::atomic<PageMapLeaf*> g_page_map[size_t{1} << kRootBits];

BRK_INLINE Span* page_map_lookup(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  PageMapLeaf* leaf =
      g_page_map[(a >> (kPageShift + kLeafBits)) & ((size_t{1} << kRootBits) - 1)].load(std::memory_order_acquire);
  if (BRK_UNLIKELY(!leaf)) return nullptr;
  return leaf[(a >> kPageShift) & ((size_t{1} << kLeafBits) - 1)].load(std::memory_order_relaxed);
}

// Points every page of [start, start + bytes) at s (nullptr to forget them). Fails (false) only if a
// leaf could not be mapped; then nothing is changed that a lookup would misread.
bool page_map_set(uintptr_t start, size_t bytes, Span* s);
// Makes sure leaves exist for the range, so that a later page_map_set on it cannot fail.
bool page_map_prepare(uintptr_t start, size_t bytes);
// Keeps one leaf mapped in reserve (false if it cannot be mapped): while it exists, the next page_map_set
// cannot fail, which is what a large block moved by mremap needs (its pages have moved already).
bool page_map_keep_spare();

}  // namespace brkmalloc

#endif
