// RSS after freeing 64 MiB and going idle: the memory must go back to the system without any further
// allocator call (brkmalloc's background purger returns freed arena pages one purge delay, 1 s by default,
// after the free). With -DBIG_TLS the program has 256 KiB of static TLS (__thread data), which raises the
// minimum thread stack glibc accepts: a purger thread created with a small fixed stack fails with EINVAL,
// and the memory then stays (issue 11).
// The program touches 64 MiB in blocks of 512 B - 64 KiB (below any mmap threshold: arena memory, not own
// mappings that free unmaps at once), frees them all, sleeps --idle-ms (3000) and reads /proc/self/statm.
// It reports base, peak and idle RSS; with --assert (the brkmalloc runs) it fails if more than 8 MiB of
// the 64 MiB is still resident (brkmalloc without a purger keeps up to its dirty cap, the recent peak). Without
// --assert (the baselines) it only reports.
#include "tests/robust/robust_common.h"

#ifdef BIG_TLS
static __thread char g_tls[256 * 1024];
#endif

int main(int argc, char** argv) {
  long idle_ms = (long)arg_num(argc, argv, "--idle-ms", 3000);
  int check = arg_flag(argc, argv, "--assert");
#ifdef BIG_TLS
  for (size_t i = 0; i < sizeof g_tls; i += 4096) g_tls[i] = 1;
  escape(g_tls);
#endif
  enum { kMax = 1 << 17 };
  static void* blocks[kMax];
  size_t base = rss_bytes();
  uint64_t seed = 42;
  size_t total = 0;
  int n = 0;
  while (total < (64u << 20) && n < kMax) {
    size_t size = 512 + next_rand(&seed) % (64 * 1024 - 512);
    blocks[n] = malloc(size);
    if (blocks[n] == NULL) {
      FAILF("malloc(%zu) failed\n", size);
      return 2;
    }
    memset(blocks[n], 0x11, size);
    total += size;
    n++;
  }
  size_t peak = rss_bytes();
  for (int i = 0; i < n; i++) free(blocks[i]);
  sleep_us(idle_ms * 1000);
  size_t idle = rss_bytes();
  long kept = (long)idle - (long)base;
  say("info: %d blocks, %zu MiB; RSS base %.1f MiB, peak %.1f MiB, after %ld ms idle %.1f MiB (%.1f MiB above "
      "base)\n", n, total >> 20, base / 1048576.0, peak / 1048576.0, idle_ms, idle / 1048576.0, kept / 1048576.0);
  if (peak < base + (60u << 20)) FAILF("the 64 MiB were not resident at the peak (test broken)\n");
  if (check && kept > (8l << 20))
    FAILF("%.1f MiB of the freed 64 MiB still resident after %ld ms idle (bound 8 MiB)\n", kept / 1048576.0,
          idle_ms);
  return g_failures ? 1 : 0;
}
