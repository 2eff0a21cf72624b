// The prefixed API's answers to bad input (the non-fatal ones; the aborting ones are in
// errors_death_test.cc): overflow and oversized requests give NULL + ENOMEM, bad alignments EINVAL,
// free keeps errno, realloc(p, 0) frees, a failed realloc leaves the block intact.
#include <errno.h>
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <thread>
#include <vector>

#include "allocator/brkmalloc.h"
#include "allocator/page_map.h"
#include "tests/unit/unit_util.h"

namespace {

constexpr size_t kHuge = size_t{1} << 47;  // the whole user address space: no OS can grant it
constexpr size_t kAbovePtrdiff = size_t(PTRDIFF_MAX) + 1;

// Runs f with errno preset to a marker; true if it returned NULL and set errno to want.
template <typename F>
testing::AssertionResult fails_with(int want, F f) {
  errno = 0x7777;
  void* p = f();
  int e = errno;
  if (p) {
    brk_free(p);
    return testing::AssertionFailure() << "returned a block";
  }
  if (e != want) return testing::AssertionFailure() << "errno " << e << ", want " << want;
  return testing::AssertionSuccess();
}

unsigned char pat(size_t i) { return static_cast<unsigned char>(i * 29 + 11); }
void fill(void* p, size_t n) {
  for (size_t i = 0; i < n; ++i) static_cast<unsigned char*>(p)[i] = pat(i);
}
bool intact(const void* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (static_cast<const unsigned char*>(p)[i] != pat(i)) return false;
  return true;
}

TEST(Errors, CallocOverflow) {
  const size_t half = SIZE_MAX / 2 + 1;
  EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_calloc(half, 2); }));
  EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_calloc(2, half); }));
  EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_calloc(SIZE_MAX, SIZE_MAX); }));
  EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_calloc((size_t{1} << 32) + 1, size_t{1} << 32); }));
  // Products that fit are fine, including zero.
  void* z = brk_calloc(0, SIZE_MAX);
  EXPECT_NE(z, nullptr);
  brk_free(z);
}

TEST(Errors, ReallocarrayOverflowKeepsTheBlock) {
  EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_reallocarray(nullptr, SIZE_MAX / 4, 8); }));
  void* p = brk_malloc(64);
  ASSERT_NE(p, nullptr);
  fill(p, 64);
  errno = 0;
  EXPECT_EQ(brk_reallocarray(p, SIZE_MAX / 4, 8), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_TRUE(intact(p, 64));
  void* q = brk_reallocarray(p, 10, 100);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(intact(q, 64));
  brk_free(q);
}

TEST(Errors, SizesAbovePtrdiffMaxFailWithEnomem) {
  for (size_t n : {kAbovePtrdiff, SIZE_MAX, SIZE_MAX - 4096}) {
    SCOPED_TRACE(n);
    EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_malloc(n); }));
    EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_calloc(1, n); }));
    EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_realloc(nullptr, n); }));
    EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_aligned_alloc(64, n); }));
    EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_aligned_alloc(size_t{1} << 20, n); }));
    EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_memalign(64, n); }));
    EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_valloc(n); }));
    EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_pvalloc(n); }));
    void* out = &out;
    EXPECT_EQ(brk_posix_memalign(&out, 64, n), ENOMEM);
    EXPECT_EQ(out, &out) << "*out untouched";
  }
}

TEST(Errors, SizesTheOsRefusesFailWithEnomem) {
  EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_malloc(kHuge); }));
  EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_calloc(kHuge / 16, 16); }));
  EXPECT_TRUE(fails_with(ENOMEM, [&] { return brk_aligned_alloc(size_t{1} << 21, kHuge); }));
}

TEST(Errors, PosixMemalignBadAlignment) {
  for (size_t a : {size_t{0}, size_t{1}, size_t{2}, size_t{4}, size_t{3}, size_t{24}, size_t{48}, size_t{4097},
                   SIZE_MAX}) {
    SCOPED_TRACE(a);
    void* out = &out;
    errno = 0x7777;
    EXPECT_EQ(brk_posix_memalign(&out, a, 100), EINVAL);
    EXPECT_EQ(out, &out) << "*out untouched";
    EXPECT_EQ(errno, 0x7777) << "posix_memalign reports through its result, not errno";
  }
  for (size_t a = sizeof(void*); a <= 4096; a <<= 1) {
    void* out = nullptr;
    ASSERT_EQ(brk_posix_memalign(&out, a, 100), 0) << a;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(out) % a, 0u);
    brk_free(out);
  }
}

TEST(Errors, AlignedAllocNonPowerOfTwoIsEinval) {
  for (size_t a : {size_t{0}, size_t{3}, size_t{24}, size_t{48}, size_t{100}, size_t{4097}, SIZE_MAX})
    EXPECT_TRUE(fails_with(EINVAL, [&] { return brk_aligned_alloc(a, 64); })) << a;
  // A size that is not a multiple of the alignment is accepted (glibc 2.36 does too).
  void* p = brk_aligned_alloc(64, 100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_GE(brk_usable_size(p), 100u);
  brk_free(p);
}

TEST(Errors, MemalignRoundsANonPowerOfTwoAlignmentUp) {
  struct Case {
    size_t asked, rounded;
  };
  for (Case c : {Case{24, 32}, Case{48, 64}, Case{100, 128}, Case{3000, 4096}, Case{5000, 8192},
                 Case{(size_t{1} << 20) + 1, size_t{2} << 20}}) {
    SCOPED_TRACE(c.asked);
    for (size_t size : {size_t{10}, size_t{5000}, size_t{300000}}) {
      void* p = brk_memalign(c.asked, size);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % c.rounded, 0u) << "size " << size;
      EXPECT_GE(brk_usable_size(p), size);
      brk_free(p);
    }
  }
  // Beyond the largest power of two there is nothing to round up to.
  EXPECT_TRUE(fails_with(EINVAL, [&] { return brk_memalign(SIZE_MAX / 2 + 2, 1); }));
}

TEST(Errors, FreeKeepsErrno) {
  const size_t t = brk_mmap_threshold();
  for (size_t n : {size_t{0}, size_t{24}, size_t{5000}, t, t + 1, 4 * t}) {
    SCOPED_TRACE(n);
    void* p = brk_malloc(n);
    ASSERT_NE(p, nullptr);
    errno = 0x4242;
    brk_free(p);
    EXPECT_EQ(errno, 0x4242);
    p = brk_malloc(n);
    errno = 0x4243;
    brk_free_sized(p, n);
    EXPECT_EQ(errno, 0x4243);
  }
  errno = 0x4244;
  brk_free(nullptr);
  EXPECT_EQ(errno, 0x4244);
  // The same when the block goes back to another thread's heap.
  void* remote = nullptr;
  std::thread([&] { remote = brk_malloc(40); }).join();
  errno = 0x4245;
  brk_free(remote);
  EXPECT_EQ(errno, 0x4245);
}

TEST(Errors, NullAndZeroCases) {
  EXPECT_EQ(brk_usable_size(nullptr), 0u);
  brk_free(nullptr);
  brk_free_sized(nullptr, 123);
  brk_free_aligned_sized(nullptr, 64, 123);
  void* p = brk_realloc(nullptr, 100);  // realloc(NULL, n) is malloc(n)
  ASSERT_NE(p, nullptr);
  EXPECT_GE(brk_usable_size(p), 100u);
  brk_free(p);
}

TEST(Errors, ReallocToZeroFreesAndReturnsNull) {
  void* p = brk_malloc(48);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(brk_realloc(p, 0), nullptr);
  void* again = brk_malloc(48);
  EXPECT_EQ(again, p) << "the block was freed (and is the first reused)";
  brk_free(again);

  const size_t big = brk_mmap_threshold() * 3;
  brk_trim(0);  // no resident arena run to serve it: a mapping of its own (large.h)
  brk_stats before;
  brk_get_stats(&before);
  void* l = brk_malloc(big);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(brk_realloc(l, 0), nullptr);
  brk_stats after;
  brk_get_stats(&after);
  EXPECT_EQ(after.large_count, before.large_count);
  EXPECT_TRUE(unit::is_unmapped(l, big)) << "the large block was freed";
}

TEST(Errors, FailedReallocLeavesTheBlockIntact) {
  const size_t t = brk_mmap_threshold();
  for (size_t n : {size_t{100}, size_t{5000}, 3 * t}) {
    for (size_t huge : {kHuge, kAbovePtrdiff, SIZE_MAX}) {
      SCOPED_TRACE(n);
      SCOPED_TRACE(huge);
      void* p = brk_malloc(n);
      ASSERT_NE(p, nullptr);
      fill(p, n);
      const size_t u = brk_usable_size(p);
      errno = 0;
      EXPECT_EQ(brk_realloc(p, huge), nullptr);
      EXPECT_EQ(errno, ENOMEM);
      EXPECT_TRUE(intact(p, n));
      EXPECT_EQ(brk_usable_size(p), u);
      void* q = brk_realloc(p, n + 1);  // the block is still usable
      ASSERT_NE(q, nullptr);
      EXPECT_TRUE(intact(q, n));
      brk_free(q);
    }
  }
}

}  // namespace
