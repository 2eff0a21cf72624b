// realloc of a large block under RLIMIT_AS (large.h): mremap(MREMAP_MAYMOVE) needs no more address space
// than the new size, so a block grows to more than half of what the limit leaves, as under glibc; the
// contents survive the move. Its own binary: the limit would starve anything else running beside it, and
// a sanitizer's shadow memory would not fit under it (tagged no_sanitizer).
#include <gtest/gtest.h>
#include <string.h>
#include <sys/resource.h>

#include "allocator/brkmalloc.h"
#include "allocator/config.h"

namespace brkmalloc {
namespace {

size_t vm_size() {
  FILE* f = fopen("/proc/self/statm", "re");
  size_t pages = 0;
  if (f) {
    if (fscanf(f, "%zu", &pages) != 1) pages = 0;
    fclose(f);
  }
  return pages * kPageSize;
}

TEST(LargeRlimit, GrowsToMoreThanHalfTheRemainingAddressSpace) {
  const size_t old_size = size_t{200} << 20, new_size = size_t{300} << 20;
  char* p = static_cast<char*>(brk_malloc(old_size));  // above the largest threshold: its own mapping
  ASSERT_NE(p, nullptr);
  memset(p, 0x5d, kPageSize);
  memset(p + old_size - kPageSize, 0x6e, kPageSize);
  // Room for the new size, not for both: moving by mapping the new size first would fail.
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_AS, &saved), 0);
  struct rlimit cap = saved;
  cap.rlim_cur = vm_size() + (new_size - old_size) + (size_t{40} << 20);
  ASSERT_LT(cap.rlim_cur - vm_size(), new_size) << "the new size must exceed what is left";
  ASSERT_EQ(setrlimit(RLIMIT_AS, &cap), 0);
  char* q = static_cast<char*>(brk_realloc(p, new_size));
  int err = errno;
  ASSERT_EQ(setrlimit(RLIMIT_AS, &saved), 0);
  ASSERT_NE(q, nullptr) << "errno " << err;
  for (size_t i = 0; i < kPageSize; ++i) {
    ASSERT_EQ(q[i], 0x5d);
    ASSERT_EQ(q[old_size - kPageSize + i], 0x6e);
  }
  q[new_size - 1] = 1;
  EXPECT_GE(brk_usable_size(q), new_size);
  brk_free(q);
}

}  // namespace
}  // namespace brkmalloc
