// The page map (allocator/page_map.h): blocks handed out by brk_malloc find their span; a large block is
// found only at its first page; addresses we never handed out (stack, globals, unmapped, non-canonical)
// give nullptr; a freed large block is forgotten.
#include "allocator/heap.h"
#include "allocator/page_map.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <vector>

#include "allocator/brkmalloc.h"
#include "allocator/size_classes.h"
#include "tests/unit/unit_util.h"

namespace brkmalloc {
namespace {

char g_global_array[8192];

TEST(PageMap, SmallBlocksFindTheirSpan) {
  std::vector<void*> blocks;
  for (size_t size = 1; size <= brk_mmap_threshold(); size = size * 3 / 2 + 1) {
    for (int i = 0; i < 5; ++i) blocks.push_back(brk_malloc(size));
  }
  for (void* p : blocks) {
    ASSERT_NE(p, nullptr);
    Span* s = page_map_lookup(p);
    ASSERT_NE(s, nullptr) << p;
    EXPECT_EQ(s->kind, kSmall) << p;
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    EXPECT_LE(s->start, a);
    EXPECT_LT(a, s->start + s->limit);
    EXPECT_GE(s->block_size, brk_usable_size(p));
    // The last byte of the block is on a page of the same span.
    EXPECT_EQ(page_map_lookup(static_cast<char*>(p) + s->block_size - 1), s);
    // Every page of a span of many blocks points at it (a block may start on any); a one-block span needs
    // only its first and last page (its block's start, and its neighbours' coalescing).
    if (kClasses.info[s->cls].capacity > 1) {
      for (uintptr_t q = s->base; q < s->base + s->bytes; q += kPageSize)
        ASSERT_EQ(page_map_lookup(reinterpret_cast<void*>(q)), s) << "page " << (q - s->base) / kPageSize;
    } else {
      EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>(s->base + s->bytes - 1)), s);
    }
  }
  for (void* p : blocks) brk_free(p);
}

TEST(PageMap, LargeBlockFoundOnlyAtItsStart) {
  const size_t size = brk_mmap_threshold() * 4;
  brk_trim(0);  // no resident arena run to serve it: a mapping of its own (large.h)
  char* p = static_cast<char*>(brk_malloc(size));
  ASSERT_NE(p, nullptr);
  Span* s = page_map_lookup(p);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->kind, kLarge);
  EXPECT_EQ(s->start, reinterpret_cast<uintptr_t>(p));
  for (size_t off = kPageSize; off < size; off += kPageSize)
    ASSERT_EQ(page_map_lookup(p + off), nullptr) << "interior page at offset " << off;
  EXPECT_EQ(page_map_lookup(p + size - 1), nullptr);
  brk_free(p);
  // Forgotten: nothing, or a tombstone (a free span, so that a second free reads as a double free).
  Span* gone = page_map_lookup(p);
  EXPECT_TRUE(gone == nullptr || gone->kind == kFree) << "freed large block still in the page map";
  EXPECT_NE(gone, s);
}

TEST(PageMap, ForeignAddressesAreUnknown) {
  int on_stack = 0;
  EXPECT_EQ(page_map_lookup(&on_stack), nullptr) << "stack";
  EXPECT_EQ(page_map_lookup(g_global_array), nullptr) << "global";
  EXPECT_EQ(page_map_lookup(g_global_array + sizeof g_global_array - 1), nullptr) << "global";
  EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>(&brk_malloc)), nullptr) << "code";
  EXPECT_EQ(page_map_lookup(nullptr), nullptr) << "null";
  // A page mapped by someone else, then unmapped.
  // (It may land where a freed large block was, whose page holds a tombstone: a free span, never a
  // small or large one.)
  void* m = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  Span* fm = page_map_lookup(m);
  EXPECT_TRUE(fm == nullptr || fm->kind == kFree) << "foreign mapping";
  munmap(m, kPageSize);
  fm = page_map_lookup(m);
  EXPECT_TRUE(fm == nullptr || fm->kind == kFree) << "unmapped";
  // The highest user page and the first page.
  EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>((uintptr_t{1} << kAddressBits) - kPageSize)), nullptr);
  EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>(kPageSize)), nullptr);
}

// Non-canonical (and kernel-half) addresses are never ours, even when their low 47 bits equal an address
// of a live block: they must never be taken for the block.
TEST(PageMap, NonCanonicalAddressesAreUnknown) {
  void* small = brk_malloc(64);
  void* large = brk_malloc(brk_mmap_threshold() * 2);
  ASSERT_NE(page_map_lookup(small), nullptr);
  ASSERT_NE(page_map_lookup(large), nullptr);
  for (void* p : {small, large}) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aliases[] = {
        a | (uintptr_t{1} << kAddressBits),  // bit 47 set, upper bits clear: non-canonical
        a | (uintptr_t{1} << 63),            // non-canonical
        a | ~((uintptr_t{1} << kAddressBits) - 1),  // sign-extended: a kernel address
    };
    // The root index keeps only the low 47 bits (no extra compare on the free path), so a lookup may
    // answer with the canonical address's span; every caller then checks the pointer against the span's
    // range, which rejects the alias. That rejection is the property asserted here.
    for (uintptr_t x : aliases) {
      Span* s = page_map_lookup(reinterpret_cast<void*>(x));
      bool accepted = s && ((s->kind == kSmall && block_start(s, reinterpret_cast<void*>(x))) ||
                            (s->kind == kLarge && s->start == x));
      EXPECT_FALSE(accepted) << "0x" << std::hex << x << " aliases the block at " << p;
    }
  }
  brk_free(small);
  brk_free(large);
}

TEST(PageMap, SetAndClearARange) {
  // page_map_set on a range of our own (a foreign mapping): every page found, then forgotten.
  const size_t bytes = 64 * kPageSize;
  void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  uintptr_t a = reinterpret_cast<uintptr_t>(m);
  Span fake{};
  fake.kind = kLarge;
  ASSERT_TRUE(page_map_set(a, bytes, nullptr));  // (the range may hold tombstones of freed large blocks)
  ASSERT_TRUE(page_map_set(a + kPageSize, bytes - 2 * kPageSize, &fake));
  EXPECT_EQ(page_map_lookup(m), nullptr);
  for (uintptr_t q = a + kPageSize; q < a + bytes - kPageSize; q += kPageSize)
    ASSERT_EQ(page_map_lookup(reinterpret_cast<void*>(q + 123)), &fake);
  EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>(a + bytes - kPageSize)), nullptr);
  ASSERT_TRUE(page_map_set(a + kPageSize, bytes - 2 * kPageSize, nullptr));
  for (uintptr_t q = a; q < a + bytes; q += kPageSize)
    ASSERT_EQ(page_map_lookup(reinterpret_cast<void*>(q)), nullptr);
  munmap(m, bytes);
}

TEST(PageMap, FreedSmallSpanIsNoLongerSmall) {
  // Fill more than one span of a class, free everything: spans other than the current one go back to the
  // arena, so their pages no longer map to a small span.
  const unsigned cls = size_to_class(4096);
  const size_t n = kClasses.info[cls].capacity * 3;
  std::vector<void*> blocks;
  for (size_t i = 0; i < n; ++i) blocks.push_back(brk_malloc(4096));
  std::vector<Span*> spans;
  for (void* p : blocks) {
    Span* s = page_map_lookup(p);
    ASSERT_NE(s, nullptr);
    if (spans.empty() || spans.back() != s) spans.push_back(s);
  }
  ASSERT_GE(spans.size(), 3u);
  void* first = blocks.front();
  for (void* p : blocks) brk_free(p);
  // The first span (full, not current) was released: its page maps to a free run or nothing.
  Span* s = page_map_lookup(first);
  EXPECT_TRUE(s == nullptr || s->kind == kFree) << "kind " << (s ? int(s->kind) : -1);
}

}  // namespace
}  // namespace brkmalloc

namespace brkmalloc {
namespace {

// A range that crosses a leaf boundary (1 GiB) is set on both leaves, and nothing beyond it.
TEST(PageMap, SetAcrossALeafBoundary) {
  const uintptr_t leaf_span = uintptr_t{1} << (kPageShift + kLeafBits);
  const uintptr_t start = (uintptr_t{77} << 36) + leaf_span - 3 * kPageSize;  // far from anything we map
  Span probe{};
  ASSERT_TRUE(page_map_set(start, 6 * kPageSize, &probe));
  for (uintptr_t a = start; a < start + 6 * kPageSize; a += kPageSize)
    EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>(a)), &probe) << (a - start) / kPageSize;
  EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>(start - kPageSize)), nullptr);
  EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>(start + 6 * kPageSize)), nullptr);
  page_map_set(start, 6 * kPageSize, nullptr);
  for (uintptr_t a = start; a < start + 6 * kPageSize; a += kPageSize)
    EXPECT_EQ(page_map_lookup(reinterpret_cast<void*>(a)), nullptr);
}

}  // namespace
}  // namespace brkmalloc
