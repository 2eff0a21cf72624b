// calloc under RLIMIT_AS after the heap holds dirty pages (glibc's tst-malloc-thread-fail and bug 22057:
// a calloc that could not get fresh memory fell back to recycled memory but still skipped the clearing,
// assuming "fresh from mmap, so already zero"). The program fills about 96 MiB of blocks of every size
// range (16 B to 1 MiB, and 300,000-byte blocks that have their own mapping: freeing them raises a dynamic
// mmap threshold) with non-zero bytes and frees them, then caps the address space at the current VmSize so
// no new mapping can succeed, and callocs sizes from 1 byte to 1 MiB (300,000 among them) until each
// fails. Every byte of every block must be zero; a NULL must come with errno ENOMEM. The blocks are then
// dirtied and freed again and the callocs repeated (reuse under the cap). Passes iff all of that holds and
// at least one calloc returned memory (so the zeroing was checked at all).
#include <sys/resource.h>

#include "tests/robust/robust_common.h"

static const size_t kSizes[] = {300000, 1 << 20, 200000, 131073, 131072, 100000, 65536, 16384, 4096,
                                1000, 100, 24, 1};
enum { kNumSizes = sizeof kSizes / sizeof kSizes[0], kPerSize = 64 };

static void* g_blocks[kNumSizes][kPerSize];
static long g_ok[kNumSizes], g_null[kNumSizes];

// First non-zero offset, or -1. Word-wise: the blocks are large and the check runs thousands of times.
static long first_nonzero(const unsigned char* p, size_t n) {
  size_t i = 0;
  for (; i < n && ((uintptr_t)(p + i) & 7); i++)
    if (p[i]) return (long)i;
  for (; i + 8 <= n; i += 8)
    if (*(const uint64_t*)(p + i)) break;
  for (; i < n; i++)
    if (p[i]) return (long)i;
  return -1;
}

// One round of callocs under the cap; the blocks stay allocated so each calloc takes other memory.
static void calloc_round(int round) {
  for (int s = 0; s < kNumSizes; s++) {
    size_t size = kSizes[s];
    for (int k = 0; k < kPerSize; k++) {
      // Alternate the two argument orders and a split product: nmemb * size is what must be cleared.
      size_t nmemb = 1, each = size;
      if (k % 3 == 1 && size % 4 == 0) nmemb = 4, each = size / 4;
      if (k % 3 == 2) nmemb = size, each = 1;
      errno = 0;
      unsigned char* p = (unsigned char*)calloc(nmemb, each);
      if (p == NULL) {
        if (errno != ENOMEM) FAILF("round %d: calloc(%zu, %zu) = NULL with errno %d, expected ENOMEM\n", round,
                                   nmemb, each, errno);
        g_null[s]++;
        break;
      }
      long bad = first_nonzero(p, size);
      if (bad >= 0) {
        FAILF("round %d: calloc(%zu, %zu) = %p has byte 0x%02x at offset %ld\n", round, nmemb, each, (void*)p,
              p[bad], bad);
      }
      g_ok[s]++;
      g_blocks[s][k] = p;
    }
  }
}

static void dirty_and_free_all() {
  for (int s = 0; s < kNumSizes; s++)
    for (int k = 0; k < kPerSize; k++) {
      if (g_blocks[s][k]) memset(g_blocks[s][k], 0xc3, kSizes[s]);
      free(g_blocks[s][k]);
      g_blocks[s][k] = NULL;
    }
}

int main() {
  // Dirty the heap: every size, non-zero contents, freed in an interleaved order.
  enum { kFill = 160 };
  static void* fill[kNumSizes][kFill];
  size_t total = 0;
  for (int k = 0; k < kFill; k++)
    for (int s = 0; s < kNumSizes; s++) {
      if (total > (96u << 20) && kSizes[s] > 4096) continue;
      fill[s][k] = malloc(kSizes[s]);
      if (fill[s][k] == NULL) {
        FAILF("malloc(%zu) failed before the cap\n", kSizes[s]);
        return 2;
      }
      memset(fill[s][k], 0xa5, kSizes[s]);
      total += kSizes[s];
    }
  for (int k = 0; k < kFill; k += 2)
    for (int s = 0; s < kNumSizes; s++) free(fill[s][k]);
  for (int k = 1; k < kFill; k += 2)
    for (int s = kNumSizes - 1; s >= 0; s--) free(fill[s][k]);
  // Large blocks again after their frees (a dynamic threshold may now serve them from recycled memory).
  for (int k = 0; k < 32; k++) {
    fill[0][k] = malloc(300000);
    if (fill[0][k]) memset(fill[0][k], 0x7e, 300000);
  }
  for (int k = 0; k < 32; k++) free(fill[0][k]);

  struct rlimit rl;
  size_t vm = vm_size_bytes();
  rl.rlim_cur = rl.rlim_max = vm;
  if (vm == 0 || setrlimit(RLIMIT_AS, &rl) != 0) {
    FAILF("cannot cap RLIMIT_AS at VmSize %zu: %s\n", vm, strerror(errno));
    return 2;
  }
  void* probe = malloc(64 << 20);  // the cap must really stop new mappings
  if (probe != NULL) FAILF("malloc(64 MiB) succeeded under the cap: the test does not test what it says\n");
  free(probe);

  say("info: filled %zu MiB, capped RLIMIT_AS at VmSize %zu MiB\n", total >> 20, vm >> 20);
  calloc_round(1);
  dirty_and_free_all();
  calloc_round(2);
  dirty_and_free_all();

  long ok = 0;
  char line[400];
  int len = 0;
  for (int s = 0; s < kNumSizes; s++) {
    ok += g_ok[s];
    len += snprintf(line + len, sizeof line - len, " %zu:%ld", kSizes[s], g_ok[s]);
  }
  say("info: zeroed blocks returned per size (two rounds, at most %d each):%s\n", 2 * kPerSize, line);
  if (ok == 0) FAILF("no calloc returned memory under the cap: zeroing was never checked\n");
  return g_failures ? 1 : 0;
}
