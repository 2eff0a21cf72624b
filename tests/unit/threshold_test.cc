// The dynamic mmap threshold (runtime.h, as glibc's): in a fresh process whose threshold was never set,
// freeing a block that had its own mapping raises the threshold to that block's size (never beyond
// kMaxMmapThreshold, 32 MiB, as glibc, never for a block that was large only because of its alignment); once the threshold is
// set explicitly, it stays where it was set. One test, because the steps depend on each other.
#include <gtest/gtest.h>
#include <string.h>

#include "allocator/brkmalloc.h"
#include "allocator/config.h"
#include "allocator/page_map.h"

namespace brkmalloc {
namespace {

SpanKind kind_of(void* p) {
  Span* s = page_map_lookup(p);
  return s ? SpanKind(s->kind) : kFree;
}

TEST(Threshold, RisesOnFreeOfAMappedBlockUntilSetExplicitly) {
  const size_t t0 = brk_mmap_threshold();
  ASSERT_EQ(t0, kDefaultMmapThreshold) << "run without BRKMALLOC_MMAP_THRESHOLD";

  // Large only because of its alignment: freeing it changes nothing.
  void* aligned = brk_aligned_alloc(size_t{1} << 20, 64 << 10);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ(kind_of(aligned), kLarge);
  brk_free(aligned);
  EXPECT_EQ(brk_mmap_threshold(), t0);

  // Above glibc's maximum dynamic threshold (32 MiB): it keeps its own mapping, and the threshold cannot
  // follow it.
  void* huge = brk_malloc(kMaxMmapThreshold * 2);
  ASSERT_NE(huge, nullptr);
  brk_free(huge);
  EXPECT_EQ(brk_mmap_threshold(), t0);

  const size_t n = t0 * 2 + 100;
  void* p = brk_malloc(n);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(kind_of(p), kLarge) << "above the threshold, before any rise";
  brk_free(p);
  EXPECT_EQ(brk_mmap_threshold(), align_up(n, kPageSize)) << "raised to the freed mapping's size";

  void* q = brk_malloc(n);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(kind_of(q), kSmall) << "the same size now comes from a size class";
  memset(q, 0x5A, n);
  brk_free(q);

  // Above the largest class too: a freed 2 MiB mapping raises the threshold, and the next 2 MiB block is an
  // arena run, whose pages are kept for reuse after free.
  const size_t big = size_t{2} << 20;
  brk_trim(0);  // no resident arena run to serve it (a block above a rising threshold takes one: large.h)
  void* b = brk_malloc(big);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(page_map_lookup(b)->in_arena, 0) << "mapped before the rise";
  brk_free(b);
  EXPECT_EQ(brk_mmap_threshold(), big);
  b = brk_malloc(big);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(kind_of(b), kLarge);
  EXPECT_EQ(page_map_lookup(b)->in_arena, 1) << "an arena run after the rise";
  memset(b, 0x5A, big);
  brk_free(b);

  // An explicit setting fixes the threshold: a freed mapping no longer moves it.
  brk_set_mmap_threshold(t0);
  void* r = brk_malloc(n);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(kind_of(r), kLarge);
  brk_free(r);
  EXPECT_EQ(brk_mmap_threshold(), t0);
}

}  // namespace
}  // namespace brkmalloc
