// API semantics of malloc & co. and operator new/delete, through the plain libc/libstdc++ names.
// One source, run three ways (see BUILD): under LD_PRELOAD=libbrkmalloc.so, statically linked with
// //preload:override, and against glibc as a baseline. Suite "Brkmalloc" holds what only brkmalloc promises
// (identity via malloc_info, documented choices where glibc 2.36 differs, C23 sized free); the glibc run
// filters it out. Everything else must hold on glibc too.
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/api/proc_util.h"

extern "C" {
// C23; glibc 2.36 lacks them, so they are weak here and looked up at run time as a fallback.
void free_sized(void* p, size_t size) __attribute__((weak));
void free_aligned_sized(void* p, size_t alignment, size_t size) __attribute__((weak));
}

namespace {

// brkmalloc's documented default mmap threshold; the tests that depend on it also set it with mallopt.
constexpr size_t kThreshold = 128 * 1024;
constexpr size_t kTooBig = (size_t)PTRDIFF_MAX + 1;
// 128 TiB: the whole user address space of x86-64, so the OS refuses it whatever the overcommit setting.
constexpr size_t kNoAddressSpace = (size_t)1 << 47;
const size_t kPage = (size_t)sysconf(_SC_PAGESIZE);

// Sizes the compiler cannot see through (so it neither folds nor warns about the huge ones).
size_t opaque(size_t n) {
  volatile size_t v = n;
  return v;
}

bool aligned(const void* p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

uint8_t pattern(size_t i, uint32_t seed) { return (uint8_t)((i * 131u + seed * 7u + (i >> 8)) | 1u); }

void fill(void* p, size_t n, uint32_t seed) {
  uint8_t* b = (uint8_t*)p;
  for (size_t i = 0; i < n; i++) b[i] = pattern(i, seed);
}

// Index of the first byte that differs from the pattern, or n.
size_t first_bad(const void* p, size_t n, uint32_t seed) {
  const uint8_t* b = (const uint8_t*)p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != pattern(i, seed)) return i;
  return n;
}

// Checks a fresh block: non-NULL, aligned, usable size >= request, every usable byte writable and kept.
// Blocks above 1 MiB get their first and last page written only (first touch is slow on these machines).
void check_block(void* p, size_t size, size_t align, const char* what) {
  SCOPED_TRACE(testing::Message() << what << " size=" << size << " align=" << align);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(aligned(p, align)) << p;
  size_t usable = malloc_usable_size(p);
  EXPECT_GE(usable, size);
  if (usable <= (1u << 20)) {
    fill(p, usable, (uint32_t)size);
    EXPECT_EQ(first_bad(p, usable, (uint32_t)size), usable);
  } else {
    uint8_t* b = (uint8_t*)p;
    fill(b, kPage, 1);
    fill(b + usable - kPage, kPage, 2);
    EXPECT_EQ(first_bad(b, kPage, 1), kPage);
    EXPECT_EQ(first_bad(b + usable - kPage, kPage, 2), kPage);
  }
}

std::vector<size_t> probe_sizes(size_t align) {
  return {1, align / 2 + 1, align, align + 1, 3 * align + 5};
}

// These two come first on purpose: glibc (the baseline) serves a large request from free heap memory left by
// earlier tests before it considers its mmap threshold, so they need a heap that has not been churned yet.
// Above the threshold a block is its own mapping: a line of /proc/self/maps spans it, and after free (and
// nothing else) no page of it is mapped any more, which memory inside a heap or an arena would still be.
// (Where the mapping line starts proves nothing: the kernel merges a new anonymous mapping with an adjacent
// one of the same protection, such as a neighbour's block or the allocator's own metadata.)
TEST(LargeBlocks, OwnMappingThatGoesAwayOnFree) {
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, (int)kThreshold), 1);
  struct Case {
    const char* what;
    size_t size;
  };
  const Case cases[] = {{"malloc", kThreshold + 1}, {"malloc", 200 * 1024},   {"malloc", 1 << 20},
                        {"malloc", (5 << 20) + 3},   {"malloc", 40 << 20},     {"calloc", 3 * kThreshold},
                        {"realloc", 2 * kThreshold}, {"aligned_alloc", 1 << 20}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.what << " " << c.size);
    void* p;
    if (!strcmp(c.what, "calloc")) {
      p = calloc(1, c.size);
    } else if (!strcmp(c.what, "realloc")) {
      p = realloc(malloc(64), c.size);
    } else if (!strcmp(c.what, "aligned_alloc")) {
      p = aligned_alloc(kPage, c.size);
    } else {
      p = malloc(c.size);
    }
    ASSERT_NE(p, nullptr);
    memset(p, 1, c.size);
    proc_util::Mapping m = proc_util::mapping_containing(p);
    ASSERT_TRUE(m.found);
    EXPECT_GE(m.end - (uintptr_t)p, c.size);
    free(p);
    for (size_t off : {(size_t)0, c.size / 2, c.size - 1}) {
      proc_util::Mapping after = proc_util::mapping_containing((char*)p + off);
      EXPECT_FALSE(after.found) << "byte " << off << " still mapped after free: " << (void*)after.start << "-"
                                << (void*)after.end;
    }
  }
}

// mallinfo2 follows what the program holds: a large block counts in hblks/hblkhd, small ones in uordblks.
TEST(Mallinfo, CountsLiveBlocks) {
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, (int)kThreshold), 1);
  struct mallinfo2 before = mallinfo2();
  const size_t big = 2 << 20;
  void* large = malloc(big);
  ASSERT_NE(large, nullptr);
  std::vector<void*> small;
  const size_t count = 4000, each = 96;
  for (size_t i = 0; i < count; i++) small.push_back(malloc(each));
  struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblks, before.hblks + 1);
  EXPECT_GE(during.hblkhd, before.hblkhd + big);
  EXPECT_GE(during.uordblks, before.uordblks + count * each);
  free(large);
  for (void* p : small) free(p);
  struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(after.hblks, before.hblks);
  EXPECT_LT(after.uordblks, during.uordblks - count * each / 2);
}

TEST(Contents, SurviveManyLiveBlocksAndDoNotOverlap) {
  struct Block {
    uint8_t* p;
    size_t n;
    uint32_t seed;
  };
  std::vector<Block> live;
  uint32_t rng = 12345;
  auto next = [&rng] { return rng = rng * 1103515245u + 12345u, rng >> 8; };
  for (uint32_t i = 0; i < 30000; i++) {
    size_t n = (i % 300 == 0) ? 4096 + next() % (3 * kThreshold) : 1 + next() % 2048;
    uint8_t* p = (uint8_t*)malloc(n);
    ASSERT_NE(p, nullptr);
    fill(p, n, i);
    live.push_back({p, n, i});
    if (i % 3 == 2) {  // free a random earlier block, checking it first
      size_t k = next() % live.size();
      ASSERT_EQ(first_bad(live[k].p, live[k].n, live[k].seed), live[k].n);
      free(live[k].p);
      live[k] = live.back();
      live.pop_back();
    }
  }
  for (const Block& b : live) ASSERT_EQ(first_bad(b.p, b.n, b.seed), b.n) << "block of " << b.n;
  std::sort(live.begin(), live.end(), [](const Block& a, const Block& b) { return a.p < b.p; });
  for (size_t i = 1; i < live.size(); i++)
    ASSERT_LE(live[i - 1].p + live[i - 1].n, live[i].p) << "blocks overlap";
  for (const Block& b : live) free(b.p);
}

TEST(Alignment, MallocCallocReallocAre16) {
  std::vector<void*> blocks;
  for (size_t n = 0; n <= 4096; n++) blocks.push_back(malloc(n));
  for (size_t n = 4096; n <= 4 * kThreshold; n = n * 5 / 4 + 1) blocks.push_back(malloc(n));
  for (size_t n = 1; n <= 2 * kThreshold; n = n * 3 + 1) blocks.push_back(calloc(n, 1));
  for (void* p : blocks) {
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned(p, 16)) << p;
  }
  void* r = nullptr;
  for (size_t n = 1; n <= 2 * kThreshold; n = n * 2 + 3) {
    r = realloc(r, n);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(aligned(r, 16)) << r << " after realloc to " << n;
  }
  free(r);
  for (void* p : blocks) free(p);
}

TEST(Alignment, MallocUsableSizeCoversRequest) {
  for (size_t n = 0; n <= 3 * kThreshold; n = n < 1024 ? n + 1 : n * 9 / 8) {
    void* p = malloc(n);
    check_block(p, n, 16, "malloc");
    free(p);
  }
}

TEST(Alignment, PosixMemalignUpTo64MiB) {
  for (size_t a = sizeof(void*); a <= (64u << 20); a *= 2) {
    for (size_t n : probe_sizes(a)) {
      void* p = nullptr;
      ASSERT_EQ(posix_memalign(&p, a, n), 0) << "align " << a << " size " << n;
      check_block(p, n, a, "posix_memalign");
      free(p);
    }
  }
}

TEST(Alignment, AlignedAllocUpTo64MiB) {
  for (size_t a = 1; a <= (64u << 20); a *= 2) {
    for (size_t n : probe_sizes(a)) {  // sizes that are not multiples of the alignment are accepted
      void* p = aligned_alloc(a, n);
      check_block(p, n, a, "aligned_alloc");
      free(p);
    }
  }
}

TEST(Alignment, MemalignUpTo64MiB) {
  for (size_t a = 1; a <= (64u << 20); a *= 2) {
    for (size_t n : probe_sizes(a)) {
      void* p = memalign(a, n);
      check_block(p, n, a, "memalign");
      free(p);
    }
  }
}

// memalign rounds an alignment that is not a power of two up to the next one (glibc and brkmalloc alike).
TEST(Alignment, MemalignRoundsOddAlignmentUp) {
  for (size_t a : {(size_t)0, (size_t)3, (size_t)24, (size_t)48, (size_t)100, (size_t)4095, (size_t)100000}) {
    size_t p2 = 16;
    while (p2 < a) p2 *= 2;
    void* p = memalign(opaque(a), 96);
    check_block(p, 96, p2, "memalign(odd alignment)");
    free(p);
  }
}

TEST(Alignment, VallocAndPvallocArePageAligned) {
  for (size_t n : {(size_t)0, (size_t)1, kPage - 1, kPage, kPage + 1, 5 * kPage + 7, 2 * kThreshold + 1}) {
    void* v = valloc(n);
    check_block(v, n, kPage, "valloc");
    free(v);
    void* pv = pvalloc(n);
    size_t rounded = (n + kPage - 1) / kPage * kPage;  // pvalloc rounds up to whole pages
    check_block(pv, rounded, kPage, "pvalloc");
    free(pv);
  }
}

struct alignas(64) Line {
  char bytes[64];
};
struct alignas(4096) PageObj {
  char bytes[100];
};

TEST(Alignment, AlignedNewAndDelete) {
  for (size_t a = 16; a <= (1u << 20); a *= 2) {
    for (size_t n : probe_sizes(a)) {
      std::align_val_t al{a};
      void* p = ::operator new(n, al);
      check_block(p, n, a, "operator new(align)");
      ::operator delete(p, n, al);
      void* q = ::operator new[](n, al);
      check_block(q, n, a, "operator new[](align)");
      ::operator delete[](q, al);
      void* r = ::operator new(n, al, std::nothrow);
      check_block(r, n, a, "operator new(align, nothrow)");
      ::operator delete(r, al, std::nothrow);
    }
  }
  Line* lines = new Line[37];
  EXPECT_TRUE(aligned(lines, 64));
  delete[] lines;
  PageObj* po = new PageObj;
  EXPECT_TRUE(aligned(po, 4096));
  delete po;
}

TEST(Malloc, ZeroSizeGivesUniqueBlocks) {
  std::vector<void*> v;
  for (int i = 0; i < 200; i++) {
    void* p = malloc(opaque(0));
    ASSERT_NE(p, nullptr);
    v.push_back(p);
  }
  std::sort(v.begin(), v.end());
  EXPECT_EQ(std::adjacent_find(v.begin(), v.end()), v.end()) << "malloc(0) returned a pointer twice";
  for (void* p : v) free(p);
}

// Grows a block step by step from 1 byte to 1 MiB and shrinks it back, checking the kept prefix each time.
TEST(Realloc, KeepsContentsAcrossClassesAndThreshold) {
  std::vector<size_t> sizes;
  for (size_t n = 1; n < (1u << 20); n = n * 3 / 2 + 1) sizes.push_back(n);
  sizes.push_back(kThreshold - 1);
  sizes.push_back(kThreshold);
  sizes.push_back(kThreshold + 1);
  std::sort(sizes.begin(), sizes.end());
  std::vector<size_t> path = sizes;
  path.insert(path.end(), sizes.rbegin() + 1, sizes.rend());  // up then down
  uint8_t* p = nullptr;
  size_t have = 0;
  for (size_t n : path) {
    p = (uint8_t*)realloc(p, n);
    ASSERT_NE(p, nullptr) << "realloc to " << n;
    size_t kept = std::min(have, n);
    ASSERT_EQ(first_bad(p, kept, 7), kept) << "realloc " << have << " -> " << n;
    ASSERT_GE(malloc_usable_size(p), n);
    fill(p, n, 7);
    have = n;
  }
  free(p);
}

TEST(Realloc, NullIsMallocAndZeroFrees) {
  void* p = realloc(nullptr, 100);
  check_block(p, 100, 16, "realloc(NULL, 100)");
  EXPECT_EQ(realloc(p, 0), nullptr);  // frees p (glibc and brkmalloc)
  void* q = reallocarray(nullptr, 10, 30);
  check_block(q, 300, 16, "reallocarray(NULL, 10, 30)");
  fill(q, 300, 3);
  q = reallocarray(q, 100, 30);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(first_bad(q, 300, 3), 300u);
  free(q);
}

// Dirty blocks of many sizes, free them, then calloc the same sizes: the memory must read as zero.
TEST(Calloc, ZeroEvenWhenReused) {
  std::vector<size_t> sizes;
  for (size_t n = 1; n <= 4 * kThreshold; n = n * 2 + 7) sizes.push_back(n);
  for (int round = 0; round < 4; round++) {
    for (size_t n : sizes) {
      std::vector<void*> dirty;
      for (int k = 0; k < 8; k++) {
        void* d = malloc(n);
        ASSERT_NE(d, nullptr);
        memset(d, 0xA5, malloc_usable_size(d));
        dirty.push_back(d);
      }
      for (void* d : dirty) free(d);
      for (int k = 0; k < 8; k++) {
        uint8_t* c = (uint8_t*)calloc(n, 1);
        ASSERT_NE(c, nullptr);
        for (size_t i = 0; i < n; i++) ASSERT_EQ(c[i], 0) << "calloc(" << n << ") byte " << i;
        dirty[k] = c;
      }
      for (void* d : dirty) free(d);
    }
  }
  uint32_t* arr = (uint32_t*)calloc(1000, sizeof(uint32_t));
  ASSERT_NE(arr, nullptr);
  for (int i = 0; i < 1000; i++) ASSERT_EQ(arr[i], 0u);
  free(arr);
}

TEST(Errors, HugeSizesGiveEnomem) {
  for (size_t n : {kTooBig, (size_t)SIZE_MAX, (size_t)SIZE_MAX - 4096, kNoAddressSpace}) {
    SCOPED_TRACE(testing::Message() << "size " << n);
    errno = 0;
    EXPECT_EQ(malloc(opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(calloc(1, opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(aligned_alloc(64, opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(memalign(4096, opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(valloc(opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(pvalloc(opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    void* out = (void*)&out;  // sentinel: must stay untouched
    EXPECT_EQ(posix_memalign(&out, 64, opaque(n)), ENOMEM);
    EXPECT_EQ(out, (void*)&out);
  }
}

TEST(Errors, CallocAndReallocarrayOverflowGiveEnomem) {
  const std::pair<size_t, size_t> overflowing[] = {
      {SIZE_MAX / 2 + 1, 2}, {(size_t)1 << 32, (size_t)1 << 32}, {SIZE_MAX, SIZE_MAX}, {3, SIZE_MAX / 3 + 1}};
  for (auto [a, b] : overflowing) {
    SCOPED_TRACE(testing::Message() << a << " * " << b);
    errno = 0;
    EXPECT_EQ(calloc(opaque(a), opaque(b)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(reallocarray(nullptr, opaque(a), opaque(b)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    void* keep = malloc(64);
    fill(keep, 64, 9);
    errno = 0;
    EXPECT_EQ(reallocarray(keep, opaque(a), opaque(b)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(first_bad(keep, 64, 9), 64u) << "failed reallocarray must leave the block alone";
    free(keep);
  }
}

TEST(Errors, FailedReallocKeepsBlock) {
  for (size_t start : {(size_t)48, 3 * kThreshold}) {
    void* p = malloc(start);
    ASSERT_NE(p, nullptr);
    fill(p, start, 5);
    for (size_t n : {kTooBig, (size_t)SIZE_MAX, kNoAddressSpace}) {
      errno = 0;
      EXPECT_EQ(realloc(p, opaque(n)), nullptr) << n;
      EXPECT_EQ(errno, ENOMEM);
      EXPECT_EQ(first_bad(p, start, 5), start);
    }
    free(p);
  }
}

TEST(Errors, PosixMemalignBadAlignmentReturnsEinval) {
  for (size_t a : {(size_t)0, (size_t)1, (size_t)2, (size_t)4, (size_t)12, (size_t)24, (size_t)48, (size_t)4095,
                   SIZE_MAX / 2 + 3, (size_t)SIZE_MAX}) {
    SCOPED_TRACE(testing::Message() << "alignment " << a);
    void* out = (void*)&out;
    errno = 4242;  // POSIX: the error is the return value; errno is left alone
    EXPECT_EQ(posix_memalign(&out, opaque(a), 16), EINVAL);
    EXPECT_EQ(out, (void*)&out);
    EXPECT_EQ(errno, 4242);
  }
}

TEST(Errors, AbsurdAlignmentGivesEinval) {
  for (size_t a : {SIZE_MAX / 2 + 3, (size_t)SIZE_MAX}) {  // not powers of two, beyond any address
    errno = 0;
    EXPECT_EQ(memalign(opaque(a), 16), nullptr);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;
    EXPECT_EQ(aligned_alloc(opaque(a), 16), nullptr);
    EXPECT_EQ(errno, EINVAL);
  }
}

TEST(Free, NullIsNoopAndErrnoIsKept) {
  std::vector<void*> v = {nullptr, malloc(1), malloc(100), malloc(5000), malloc(kThreshold + 1),
                          malloc(4 * kThreshold), memalign(4096, 100), aligned_alloc(1 << 16, 3 * kThreshold),
                          valloc(10)};
  for (void* p : v) {
    errno = 4243;
    free(p);
    EXPECT_EQ(errno, 4243) << "free(" << p << ") changed errno";
  }
  errno = 4244;
  free(nullptr);
  ::operator delete(nullptr);
  ::operator delete[](nullptr);
  EXPECT_EQ(errno, 4244);
}

// A working set of small blocks, written in full, and the RSS before and after writing it.
struct WorkingSet {
  std::vector<void*> blocks;
  size_t before = 0, peak = 0;
};

// Fills `bytes` with blocks of smallest, smallest + 16, ... (`steps` sizes, cycling). The pointer array is
// made resident and malloc_trim(0) called first, so that the working set cannot land on pages made
// resident by earlier tests and the RSS difference is the blocks'.
void fill_small_blocks(size_t bytes, size_t smallest, size_t steps, WorkingSet* ws) {
  ws->blocks.reserve(bytes / smallest);
  memset(ws->blocks.data(), 0, ws->blocks.capacity() * sizeof(void*));
  malloc_trim(0);
  ws->before = proc_util::rss_bytes();
  size_t total = 0;
  for (size_t i = 0; total < bytes; i++) {
    size_t n = smallest + 16 * (i % steps);
    void* p = malloc(n);
    ASSERT_NE(p, nullptr);
    memset(p, 0x5A, n);
    ws->blocks.push_back(p);
    total += n;
  }
  ws->peak = proc_util::rss_bytes();
  EXPECT_GE(ws->peak, ws->before + bytes / 8 * 7) << "the working set was written, so it must be resident";
}

// Fill a 256 MiB working set of small blocks, free it all, malloc_trim(0): most of it must leave the RSS.
TEST(Rss, FallsAfterFreeingSmallBlocksAndTrim) {
  const size_t working_set = 256u << 20;
  WorkingSet ws;
  ASSERT_NO_FATAL_FAILURE(fill_small_blocks(working_set, 16, 32, &ws));  // 16..512 bytes
  const size_t before = ws.before, peak = ws.peak;
  for (void* p : ws.blocks) free(p);
  malloc_trim(0);
  size_t after = proc_util::rss_bytes();
  RecordProperty("rss_before_mib", (int)(before >> 20));
  RecordProperty("rss_peak_mib", (int)(peak >> 20));
  RecordProperty("rss_after_trim_mib", (int)(after >> 20));
  EXPECT_LE(after, peak - working_set / 4 * 3)
      << "RSS before " << (before >> 20) << " MiB, peak " << (peak >> 20) << " MiB, after trim " << (after >> 20)
      << " MiB: less than 3/4 of the working set went back";
}

int g_handler_calls = 0;
void counting_handler() {
  g_handler_calls++;
  std::set_new_handler(nullptr);  // uninstall: the next failure throws / returns nullptr
}

// SIZE_MAX is left out of the aligned forms here: libstdc++ 12's aligned new rounds the size up to the
// alignment, which wraps to 0 and succeeds (see Brkmalloc.AlignedNewOfSizeMaxFails).
TEST(New, HugeThrowsBadAlloc) {
  for (size_t n : {kTooBig, (size_t)SIZE_MAX, kNoAddressSpace}) {
    EXPECT_THROW(::operator new(opaque(n)), std::bad_alloc) << n;
    EXPECT_THROW(::operator new[](opaque(n)), std::bad_alloc) << n;
  }
  for (size_t n : {kTooBig, kNoAddressSpace}) {
    EXPECT_THROW(::operator new(opaque(n), std::align_val_t{64}), std::bad_alloc) << n;
    EXPECT_THROW(::operator new[](opaque(n), std::align_val_t{4096}), std::bad_alloc) << n;
  }
}

TEST(New, NothrowReturnsNull) {
  for (size_t n : {kTooBig, (size_t)SIZE_MAX, kNoAddressSpace}) {
    EXPECT_EQ(::operator new(opaque(n), std::nothrow), nullptr) << n;
    EXPECT_EQ(::operator new[](opaque(n), std::nothrow), nullptr) << n;
  }
  for (size_t n : {kTooBig, kNoAddressSpace}) {
    EXPECT_EQ(::operator new(opaque(n), std::align_val_t{128}, std::nothrow), nullptr) << n;
    EXPECT_EQ(::operator new[](opaque(n), std::align_val_t{128}, std::nothrow), nullptr) << n;
  }
}

TEST(New, HandlerIsCalledBeforeFailing) {
  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  EXPECT_THROW(::operator new(opaque(kTooBig)), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 1);

  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  EXPECT_EQ(::operator new[](opaque(kTooBig), std::nothrow), nullptr);
  EXPECT_EQ(g_handler_calls, 1);

  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  EXPECT_THROW(::operator new(opaque(kTooBig), std::align_val_t{256}), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 1);
  EXPECT_EQ(std::get_new_handler(), nullptr);
}

TEST(New, ZeroSizeAndSizedDelete) {
  void* a = ::operator new(opaque(0));
  void* b = ::operator new(opaque(0));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  ::operator delete(a, (size_t)0);
  ::operator delete(b);
  for (size_t n : {(size_t)1, (size_t)24, (size_t)1000, kThreshold, 3 * kThreshold}) {
    void* p = ::operator new(n);
    check_block(p, n, 16, "operator new");
    ::operator delete(p, n);
    void* q = ::operator new[](n);
    check_block(q, n, 16, "operator new[]");
    ::operator delete[](q, n);
  }
}

// ---- brkmalloc only (the glibc baseline run filters this suite out) ----

TEST(Brkmalloc, MallocInfoIdentifiesBrkmalloc) {
  static char buf[1 << 16];
  memset(buf, 0, sizeof buf);
  FILE* f = fmemopen(buf, sizeof buf - 1, "w");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(malloc_info(0, f), 0);
  fclose(f);
  const char want[] = "<malloc version=\"brkmalloc-1\">";
  EXPECT_EQ(strncmp(buf, want, sizeof want - 1), 0) << "malloc_info wrote: " << std::string(buf).substr(0, 80);
}

// Documented brkmalloc choice (README "Errors and misuse"). glibc 2.36 does not do this: its aligned_alloc
// rounds a non-power-of-two alignment up like memalign (aligned_alloc(24, 48) and aligned_alloc(0, 16) succeed).
TEST(Brkmalloc, AlignedAllocNonPowerOfTwoAlignmentGivesEinval) {
  for (size_t a : {(size_t)0, (size_t)3, (size_t)24, (size_t)48, (size_t)4095, (size_t)100000}) {
    errno = 0;
    EXPECT_EQ(aligned_alloc(opaque(a), 96), nullptr) << a;
    EXPECT_EQ(errno, EINVAL) << a;
  }
}

// The C++ standard requires a failed allocation to throw (or return nullptr for nothrow); libstdc++ 12's own
// aligned new gets a block for SIZE_MAX because its size rounding wraps to 0.
TEST(Brkmalloc, AlignedNewOfSizeMaxFails) {
  for (size_t a : {(size_t)32, (size_t)64, (size_t)4096}) {
    EXPECT_THROW(::operator new(opaque(SIZE_MAX), std::align_val_t{a}), std::bad_alloc) << a;
    EXPECT_THROW(::operator new[](opaque(SIZE_MAX), std::align_val_t{a}), std::bad_alloc) << a;
    EXPECT_EQ(::operator new(opaque(SIZE_MAX), std::align_val_t{a}, std::nothrow), nullptr) << a;
    EXPECT_EQ(::operator new[](opaque(SIZE_MAX), std::align_val_t{a}, std::nothrow), nullptr) << a;
  }
}

// README "Memory goes back to the OS": without malloc_trim and without any further allocator call, freed
// arena pages leave the RSS once the purge delay (default 1 s) has passed. The working set is kept below
// the 32 MiB dirty cap, so nothing but the delayed purge can give it back.
TEST(Brkmalloc, RssFallsWhileIdleWithoutTrim) {
  const size_t working_set = 24u << 20;
  WorkingSet ws;
  ASSERT_NO_FATAL_FAILURE(fill_small_blocks(working_set, 64, 64, &ws));  // 64..1072 bytes
  const size_t before = ws.before, peak = ws.peak;
  for (void* p : ws.blocks) free(p);
  size_t after = proc_util::rss_bytes();
  for (int waited_ms = 0; waited_ms < 5000 && after > peak - working_set / 4 * 3; waited_ms += 50) {
    usleep(50 * 1000);
    after = proc_util::rss_bytes();
  }
  RecordProperty("rss_before_mib", (int)(before >> 20));
  RecordProperty("rss_peak_mib", (int)(peak >> 20));
  RecordProperty("rss_idle_mib", (int)(after >> 20));
  EXPECT_LE(after, peak - working_set / 4 * 3)
      << "RSS before " << (before >> 20) << " MiB, peak " << (peak >> 20) << " MiB, 5 s after freeing "
      << (after >> 20) << " MiB: less than 3/4 of the working set went back without malloc_trim";
}

TEST(Brkmalloc, C23SizedFree) {
  using FreeSized = void (*)(void*, size_t);
  using FreeAlignedSized = void (*)(void*, size_t, size_t);
  FreeSized fs = free_sized ? free_sized : (FreeSized)dlsym(RTLD_DEFAULT, "free_sized");
  FreeAlignedSized fas =
      free_aligned_sized ? free_aligned_sized : (FreeAlignedSized)dlsym(RTLD_DEFAULT, "free_aligned_sized");
  ASSERT_NE(fs, nullptr) << "free_sized not found";
  ASSERT_NE(fas, nullptr) << "free_aligned_sized not found";
  for (size_t n : {(size_t)1, (size_t)100, (size_t)4000, 3 * kThreshold}) {
    errno = 4245;
    fs(malloc(n), n);
    fs(calloc(n, 1), n);
    fas(aligned_alloc(256, n), 256, n);
    EXPECT_EQ(errno, 4245);
  }
  fs(nullptr, 0);
  fas(nullptr, 64, 0);
}

}  // namespace
