// Large blocks (allocator/large.h) through the prefixed API: each is its own mapping, gone once freed;
// realloc grows with mremap (in place or moving) keeping contents, shrinks in place; alignments up to
// 64 MiB; the statistics follow them.
#include "allocator/large.h"

#include <gtest/gtest.h>
#include <string.h>
#include <sys/mman.h>

#include <vector>

#include "allocator/brkmalloc.h"
#include "allocator/os.h"
#include "allocator/page_map.h"
#include "tests/unit/unit_util.h"

namespace brkmalloc {
namespace {

unsigned char byte_at(size_t i) { return static_cast<unsigned char>(i * 131 + (i >> 12) * 7 + 1); }

// Writes (or checks) the first and the last byte of every 512 (so also the last byte of any prefix whose
// length is a multiple of 512).
void fill(void* p, size_t n) {
  unsigned char* c = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; i += 512) {
    c[i] = byte_at(i);
    if (i + 511 < n) c[i + 511] = byte_at(i + 511);
  }
}
bool intact(const void* p, size_t n) {
  const unsigned char* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; i += 512) {
    if (c[i] != byte_at(i)) return false;
    if (i + 511 < n && c[i + 511] != byte_at(i + 511)) return false;
  }
  return true;
}

// These tests are about blocks above a given threshold: fix it, so that freeing one does not raise it
// (the dynamic rise has its own test binary, threshold_test).
struct FixedThreshold : ::testing::Environment {
  void SetUp() override { brk_set_mmap_threshold(brk_mmap_threshold()); }
};
const auto* const g_fixed_threshold = ::testing::AddGlobalTestEnvironment(new FixedThreshold);

brk_stats stats() {
  brk_stats st;
  brk_get_stats(&st);
  return st;
}

TEST(Large, BlocksAboveTheThresholdAreTheirOwnMapping) {
  const size_t t = brk_mmap_threshold();
  for (size_t size : {t + 1, t + 4096, size_t{1} << 20, size_t{10} << 20}) {
    SCOPED_TRACE(size);
    brk_stats before = stats();
    char* p = static_cast<char*>(brk_malloc(size));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPageSize, 0u);
    Span* s = page_map_lookup(p);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->kind, kLarge);
    EXPECT_EQ(s->in_arena, 0) << "mmap did not fail, so the block must not come from an arena";
    std::string line = unit::maps_line_covering(p, size);
    EXPECT_NE(line, "") << "no mapping in /proc/self/maps covers the block";
    EXPECT_NE(line.find(" rw-p "), std::string::npos) << line;
    const size_t bytes = align_up(size, kPageSize);
    EXPECT_EQ(brk_usable_size(p), bytes);
    EXPECT_EQ(unit::resident_pages(p, bytes), 0) << "a fresh mapping is not touched by the allocator";
    fill(p, bytes);
    brk_stats during = stats();
    EXPECT_EQ(during.large_count, before.large_count + 1);
    EXPECT_EQ(during.large_allocated, before.large_allocated + bytes);
    EXPECT_TRUE(intact(p, bytes));
    brk_free(p);
    EXPECT_TRUE(unit::is_unmapped(p, bytes)) << "a freed large block is unmapped at once";
    brk_stats after = stats();
    EXPECT_EQ(after.large_count, before.large_count);
    EXPECT_EQ(after.large_allocated, before.large_allocated);
  }
}

TEST(Large, CallocOfALargeBlockIsZero) {
  const size_t n = brk_mmap_threshold() * 3;
  for (int round = 0; round < 3; ++round) {
    unsigned char* p = static_cast<unsigned char*>(brk_calloc(n / 8, 8));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < n; i += 64) ASSERT_EQ(p[i], 0) << "offset " << i;
    memset(p, 0x77, n);
    brk_free(p);
  }
}

TEST(Large, ReallocGrowsKeepingContents) {
  const size_t from = brk_mmap_threshold() * 2;
  char* p = static_cast<char*>(brk_malloc(from));
  ASSERT_NE(p, nullptr);
  fill(p, from);
  size_t have = from;
  for (size_t to : {size_t{1} << 20, size_t{8} << 20, size_t{40} << 20}) {
    SCOPED_TRACE(to);
    brk_stats before = stats();
    char* q = static_cast<char*>(brk_realloc(p, to));
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(intact(q, have));
    EXPECT_EQ(brk_usable_size(q), align_up(to, kPageSize));
    Span* s = page_map_lookup(q);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->kind, kLarge);
    EXPECT_EQ(s->start, reinterpret_cast<uintptr_t>(q));
    brk_stats after = stats();
    EXPECT_EQ(after.large_count, before.large_count);
    EXPECT_EQ(after.large_allocated, before.large_allocated - align_up(have, kPageSize) + align_up(to, kPageSize));
    fill(q, to);
    p = q;
    have = to;
  }
  brk_free(p);
}

TEST(Large, ReallocMovesWhenTheNextPagesAreTaken) {
  const size_t from = brk_mmap_threshold() * 2;
  char* p = static_cast<char*>(brk_malloc(from));
  ASSERT_NE(p, nullptr);
  fill(p, from);
  // Occupy the page right after the block, so that it cannot grow in place.
  char* after = p + align_up(from, kPageSize);
  void* blocker = mmap(after, kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  bool own_blocker = blocker == after;
  if (blocker != MAP_FAILED && !own_blocker) munmap(blocker, kPageSize);
  ASSERT_TRUE(own_blocker || unit::is_mapped(after, kPageSize)) << "could not occupy the next page";
  const size_t to = size_t{4} << 20;
  char* q = static_cast<char*>(brk_realloc(p, to));
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p) << "the block cannot have grown in place";
  EXPECT_TRUE(intact(q, from));
  EXPECT_TRUE(unit::is_unmapped(p, from)) << "the old pages moved away";
  Span* old = page_map_lookup(p);
  EXPECT_TRUE(old == nullptr || old->kind == kFree) << "the old address is forgotten";
  ASSERT_NE(page_map_lookup(q), nullptr);
  EXPECT_EQ(page_map_lookup(q)->start, reinterpret_cast<uintptr_t>(q));
  fill(q, to);
  EXPECT_TRUE(intact(q, to));
  brk_free(q);
  if (own_blocker) munmap(blocker, kPageSize);
}

TEST(Large, ReallocShrinksInPlace) {
  const size_t from = size_t{4} << 20, to = size_t{1} << 20;
  ASSERT_GT(to, brk_mmap_threshold());
  char* p = static_cast<char*>(brk_malloc(from));
  ASSERT_NE(p, nullptr);
  fill(p, from);
  brk_stats before = stats();
  char* q = static_cast<char*>(brk_realloc(p, to));
  EXPECT_EQ(q, p) << "shrinking a large block stays in place";
  EXPECT_TRUE(intact(q, to));
  EXPECT_EQ(brk_usable_size(q), to);
  EXPECT_TRUE(unit::is_unmapped(p + to, from - to)) << "the tail was given back";
  brk_stats after = stats();
  EXPECT_EQ(after.large_allocated, before.large_allocated - (from - to));
  EXPECT_EQ(after.large_count, before.large_count);
  brk_free(q);
}

TEST(Large, ShrinkBelowTheThresholdBecomesSmall) {
  const size_t t = brk_mmap_threshold();
  char* p = static_cast<char*>(brk_malloc(3 * t));
  ASSERT_NE(p, nullptr);
  fill(p, 3 * t);
  char* q = static_cast<char*>(brk_realloc(p, t / 2));
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(intact(q, t / 2));
  ASSERT_NE(page_map_lookup(q), nullptr);
  EXPECT_EQ(page_map_lookup(q)->kind, kSmall);
  EXPECT_TRUE(unit::is_unmapped(p, 3 * t));
  brk_free(q);
}

TEST(Large, AlignedBlocksUpTo64MiB) {
  for (size_t align = 2 * kPageSize; align <= (size_t{64} << 20); align <<= 1) {
    for (size_t size : {size_t{100}, size_t{3} << 20}) {
      SCOPED_TRACE(align);
      SCOPED_TRACE(size);
      // Up to kMaxArenaAlign, a block within the threshold is an arena run: no mapping of its own, so the
      // number of mappings stays bounded whatever alignment a program asks for.
      const bool in_arena = align <= kMaxArenaAlign && size <= brk_mmap_threshold();
      brk_stats before = stats();
      const size_t maps_before = os::mappings_created();
      char* p = static_cast<char*>(brk_aligned_alloc(align, size));
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
      EXPECT_GE(brk_usable_size(p), size);
      Span* s = page_map_lookup(p);
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(s->kind, kLarge);
      EXPECT_EQ(bool(s->in_arena), in_arena);
      if (in_arena) EXPECT_EQ(os::mappings_created(), maps_before) << "served by an arena";
      EXPECT_NE(unit::maps_line_covering(p, size), "");
      // Only the block's own pages are counted, not what was used to align it.
      EXPECT_EQ(stats().large_allocated, before.large_allocated + align_up(size, kPageSize));
      p[0] = 1;
      p[size - 1] = 2;
      brk_free(p);
      if (!in_arena) EXPECT_TRUE(unit::is_unmapped(p, size));
    }
  }
  void* q = nullptr;
  ASSERT_EQ(brk_posix_memalign(&q, size_t{16} << 20, 5000), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % (size_t{16} << 20), 0u);
  brk_free(q);
  void* m = brk_memalign(size_t{32} << 20, 1 << 20);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m) % (size_t{32} << 20), 0u);
  brk_free(m);
}

TEST(Large, PageAlignedHelpers) {
  const size_t t = brk_mmap_threshold();
  for (size_t size : {size_t{1}, size_t{5000}, t + 1, 3 * t + 5}) {
    SCOPED_TRACE(size);
    void* v = brk_valloc(size);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v) % kPageSize, 0u);
    EXPECT_GE(brk_usable_size(v), size);
    brk_free(v);
    void* pv = brk_pvalloc(size);
    ASSERT_NE(pv, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(pv) % kPageSize, 0u);
    EXPECT_GE(brk_usable_size(pv), align_up(size, kPageSize));
    brk_free(pv);
  }
}

TEST(Large, StatisticsTrackLiveLargeBlocks) {
  const size_t t = brk_mmap_threshold();
  const std::vector<size_t> sizes = {t + 1, 2 * t, 5 * t + 123, size_t{3} << 20};
  brk_stats before = stats();
  std::vector<void*> blocks;
  size_t bytes = 0;
  for (size_t n : sizes) {
    blocks.push_back(brk_malloc(n));
    ASSERT_NE(blocks.back(), nullptr);
    bytes += align_up(n, kPageSize);
    brk_stats st = stats();
    EXPECT_EQ(st.large_count, before.large_count + blocks.size());
    EXPECT_EQ(st.large_allocated, before.large_allocated + bytes);
    EXPECT_EQ(st.allocated - before.allocated, st.large_allocated - before.large_allocated)
        << "allocated includes the large bytes";
  }
  EXPECT_EQ(large_stats().count, stats().large_count);
  for (size_t i = 0; i < blocks.size(); ++i) {
    brk_free(blocks[i]);
    bytes -= align_up(sizes[i], kPageSize);
    brk_stats st = stats();
    EXPECT_EQ(st.large_count, before.large_count + blocks.size() - i - 1);
    EXPECT_EQ(st.large_allocated, before.large_allocated + bytes);
  }
}

}  // namespace
}  // namespace brkmalloc
