// Size classes: 16-byte steps up to 256 bytes, eight classes per doubling up to 1 KiB (288, 320, ...,
// 512, 576, ..., 1024), then four per doubling up to kMaxSmallSize (1280, 1536, 1792, 2048, 2560, ...).
// Above 128 bytes rounding wastes at most 12.5 % of a block up to 1 KiB and 20 % beyond. The small sizes
// are where most live blocks of big heaps are: with four classes per doubling from 128 bytes, a heap of a
// million live 16-512 B blocks held 8.3 % more than it asked for in rounding alone, with these 4.4 %
// (bench/replace --mode=live1m). Every class is a multiple of 16, so every block is 16-byte aligned. size_to_class is a table lookup (<= 1 KiB) or a few arithmetic
// operations, never a loop. Each class also fixes its span: how many pages one span of it holds.
#ifndef BRK_SIZE_CLASSES_H
#define BRK_SIZE_CLASSES_H

#include "allocator/config.h"

namespace brkmalloc {

constexpr unsigned kNumClasses = 72;  // class 71 is kMaxSmallSize
constexpr size_t kOneBlockSpanSize = size_t{64} << 10;

constexpr size_t class_size_of(unsigned cls) {
  if (cls < 16) return 16 * (cls + 1);
  if (cls < 32) {
    unsigned k = cls - 16, b = 8 + k / 8;
    return (size_t{1} << b) + (size_t(k % 8 + 1) << (b - 3));
  }
  unsigned k = cls - 32, b = 10 + k / 4;
  return (size_t{1} << b) + (size_t(k % 4 + 1) << (b - 2));
}

struct ClassInfo {
  uint32_t size;       // block size
  uint32_t pages;      // pages per span
  uint32_t capacity;   // blocks per span
  uint64_t div_magic;  // (offset * div_magic) >> 48 == offset / size for every offset in a span
};

struct ClassTables {
  ClassInfo info[kNumClasses];
  uint8_t small[kSmallLookupMax / 16 + 1];  // class of sizes 0..1024, indexed by (size + 15) / 16
  uint8_t aligned[kNumClasses][9];         // first class >= c whose size is a multiple of 2^(4+i)
};

constexpr ClassTables make_class_tables() {
  ClassTables t{};
  for (unsigned c = 0; c < kNumClasses; ++c) {
    size_t size = class_size_of(c);
    // Small classes share 64 KiB spans; larger ones hold at least 8 (4 above 16 KiB) blocks, and among a
    // few span lengths we keep the one that wastes the least of its tail. From 64 KiB a span is one block
    // (these sizes are page multiples): freed, it goes straight back to the arena as a free run any size
    // can reuse, instead of keeping a few of its neighbours resident in a span of its own class.
    size_t min_objs = size <= 16384 ? 8 : size < kOneBlockSpanSize ? 4 : 1;
    size_t base = (min_objs * size + kPageSize - 1) / kPageSize;
    if (base < 16) base = 16;
    size_t best = base;
    for (size_t p = base; p <= base + base / 4; ++p) {
      size_t w_new = (p * kPageSize) % size, w_best = (best * kPageSize) % size;
      if (w_new * best < w_best * p) best = p;
    }
    t.info[c].size = uint32_t(size);
    t.info[c].pages = uint32_t(best);
    t.info[c].capacity = uint32_t(best * kPageSize / size);
    t.info[c].div_magic = (uint64_t{1} << 48) / size + 1;
  }
  for (size_t i = 0; i <= kSmallLookupMax / 16; ++i) {
    size_t n = i == 0 ? 16 : i * 16;
    unsigned c = 0;
    while (class_size_of(c) < n) ++c;
    t.small[i] = uint8_t(c);
  }
  for (unsigned c = 0; c < kNumClasses; ++c) {
    for (unsigned s = 0; s < 9; ++s) {
      unsigned d = c;
      while (d + 1 < kNumClasses && class_size_of(d) % (size_t{16} << s) != 0) ++d;
      t.aligned[c][s] = uint8_t(d);
    }
  }
  return t;
}

extern const ClassTables kClasses;

// Class of a size in [1, kMaxSmallSize] (size 0 is class 0). The caller has checked the upper bound.
BRK_INLINE unsigned size_to_class(size_t size) {
  if (BRK_LIKELY(size <= kSmallLookupMax)) return kClasses.small[(size + 15) >> 4];
  size_t s = size - 1;
  unsigned b = 63u - unsigned(__builtin_clzl(s));  // size lies in (2^b, 2^(b+1)], b >= 10
  return 32 + (b - 10) * 4 + unsigned((s >> (b - 2)) & 3);
}

BRK_INLINE size_t class_size(unsigned cls) { return kClasses.info[cls].size; }

// The class to serve `size` bytes aligned to `align` (16 <= align <= kPageSize), or kNumClasses if the
// aligned size is beyond the classes. Spans are page-aligned, so a class whose size is a multiple of
// `align` gives aligned blocks; the chosen block wastes less than `align` beyond normal rounding.
BRK_INLINE unsigned aligned_class(size_t size, size_t align) {
  size_t n = align_up(size == 0 ? 1 : size, align);
  if (n > kMaxSmallSize || n < size) return kNumClasses;
  unsigned shift = unsigned(__builtin_ctzl(align)) - 4;
  return kClasses.aligned[size_to_class(n)][shift];
}

}  // namespace brkmalloc

#endif
