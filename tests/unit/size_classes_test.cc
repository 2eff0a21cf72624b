// Size classes (allocator/size_classes.h): the table's shape, size_to_class exhaustively, the rounding
// waste bound, the division magic exhaustively over every span offset, and aligned_class.
#include "allocator/size_classes.h"

#include <gtest/gtest.h>

namespace brkmalloc {
namespace {

TEST(SizeClasses, EveryClassIsAMultipleOf16AndIncreasing) {
  for (unsigned c = 0; c < kNumClasses; ++c) {
    SCOPED_TRACE(c);
    EXPECT_EQ(class_size(c) % kMinAlign, 0u);
    EXPECT_EQ(class_size(c), class_size_of(c));
    if (c > 0) {
      EXPECT_GT(class_size(c), class_size(c - 1));
    }
  }
  EXPECT_EQ(class_size(0), kMinAlign);
  EXPECT_EQ(class_size(kNumClasses - 1), kMaxSmallSize);
}

TEST(SizeClasses, SpanShapeIsConsistent) {
  for (unsigned c = 0; c < kNumClasses; ++c) {
    SCOPED_TRACE(c);
    const ClassInfo& ci = kClasses.info[c];
    EXPECT_EQ(ci.size, class_size(c));
    EXPECT_GE(ci.capacity, 1u);
    EXPECT_EQ(size_t(ci.capacity), size_t(ci.pages) * kPageSize / ci.size);
    EXPECT_LE(size_t(ci.capacity) * ci.size, size_t(ci.pages) * kPageSize);
    // A span's offsets fit the 32-bit limit field.
    EXPECT_LT(size_t(ci.pages) * kPageSize, size_t{1} << 32);
  }
}

// size_to_class(n) is the smallest class whose size is >= n, for every n up to the largest class.
TEST(SizeClasses, SizeToClassIsSmallestFittingClassExhaustive) {
  unsigned expect = 0;
  for (size_t n = 0; n <= kMaxSmallSize; ++n) {
    while (class_size(expect) < n) ++expect;
    unsigned got = size_to_class(n);
    if (got != expect) {
      ADD_FAILURE() << "size_to_class(" << n << ") = " << got << " (size " << class_size(got)
                    << "), expected class " << expect << " (size " << class_size(expect) << ")";
      return;
    }
  }
  EXPECT_EQ(expect, kNumClasses - 1);
}

// The fast path's table (sizes <= kSmallLookupMax) agrees with size_to_class.
TEST(SizeClasses, SmallLookupTableAgrees) {
  for (size_t n = 0; n <= kSmallLookupMax; ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(kClasses.small[(n + 15) >> 4], size_to_class(n));
  }
}

// Above 128 bytes, going from one class to the next never adds more than 20 % of the block: a request of
// one byte more than class c-1 gets class c, so the waste is (size(c) - size(c-1) - 1) / size(c).
TEST(SizeClasses, WastePerStepUnder20PercentAbove128) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    if (class_size(c - 1) < 128) continue;
    SCOPED_TRACE(c);
    size_t request = class_size(c - 1) + 1;
    size_t waste = class_size(size_to_class(request)) - request;
    EXPECT_LT(waste * 5, class_size(c)) << "class " << c << " wastes " << waste << " of " << class_size(c);
  }
}

// (offset * div_magic) >> 48 == offset / size for every offset inside a span of every class.
TEST(SizeClasses, DivMagicExactOverEverySpanOffset) {
  for (unsigned c = 0; c < kNumClasses; ++c) {
    const ClassInfo& ci = kClasses.info[c];
    size_t span_bytes = size_t(ci.pages) * kPageSize;
    uint64_t magic = ci.div_magic;
    size_t bad = 0, first_bad = 0;
    for (uint64_t off = 0; off < span_bytes; ++off) {
      if (((off * magic) >> 48) != off / ci.size) {
        if (!bad++) first_bad = off;
      }
    }
    EXPECT_EQ(bad, 0u) << "class " << c << " (size " << ci.size << "): first wrong offset " << first_bad;
  }
}

// aligned_class(size, align) serves size bytes at alignment align: its size is a multiple of align, at
// least size, is the smallest such class, and wastes less than align beyond the normal rounding.
TEST(SizeClasses, AlignedClass) {
  for (size_t align = kMinAlign; align <= kPageSize; align <<= 1) {
    SCOPED_TRACE(align);
    size_t failures = 0;
    unsigned smallest = 0;  // grows with size
    for (size_t size = 0; size <= kMaxSmallSize && failures < 5; ++size) {
      unsigned c = aligned_class(size, align);
      if (align_up(size == 0 ? 1 : size, align) > kMaxSmallSize) {
        if (c != kNumClasses) {
          ADD_FAILURE() << "size " << size << ": expected kNumClasses (beyond the classes), got " << c;
          ++failures;
        }
        continue;
      }
      while (class_size(smallest) < size || class_size(smallest) % align) ++smallest;
      size_t normal = class_size(size_to_class(size));
      bool ok = c < kNumClasses && class_size(c) % align == 0 && class_size(c) >= size && c == smallest &&
                class_size(c) < normal + align;
      if (!ok) {
        ADD_FAILURE() << "aligned_class(" << size << ", " << align << ") = " << c << " size "
                      << (c < kNumClasses ? class_size(c) : 0) << "; smallest fitting class " << smallest
                      << " size " << class_size(smallest) << "; normal rounding " << normal;
        ++failures;
      }
    }
  }
}

}  // namespace
}  // namespace brkmalloc
