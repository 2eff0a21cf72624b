// RSS after freeing 1 GiB of big blocks and going idle (issue 19): the freed arena runs stay resident for
// the purge delay (so that a working set of big blocks is reused without page faults), and then go back
// without any further allocator call and without malloc_trim.
// The program keeps 64 live slots of 4-28 MiB blocks, each written in full, and replaces them at random
// (2 rounds, so most blocks are served from runs freed earlier), until 1 GiB is live at the end; it frees
// them all, then reads /proc/self/statm every 100 ms for --idle-ms (3000) and prints the curve. With
// --assert (the brkmalloc runs) it fails unless RSS is under 10 MiB within --delay-ms (1000, brkmalloc's
// default purge delay) plus one second of the last free. Without --assert (the baselines) it only reports.
#include "tests/robust/robust_common.h"

int main(int argc, char** argv) {
  long idle_ms = (long)arg_num(argc, argv, "--idle-ms", 3000);
  long delay_ms = (long)arg_num(argc, argv, "--delay-ms", 1000);
  int check = arg_flag(argc, argv, "--assert");
  enum { kSlots = 64 };
  static void* slot[kSlots];
  static size_t slot_size[kSlots];
  uint64_t seed = 19;
  size_t live = 0;
  size_t base = rss_bytes();
  // Fill the slots, then replace blocks at random until 1 GiB is live (sizes drawn so the total gets there).
  for (int i = 0; i < 3 * kSlots || live < (1u << 30); i++) {
    int k = i < kSlots ? i : (int)(next_rand(&seed) % kSlots);
    size_t size = ((4 + next_rand(&seed) % 25) << 20);
    if (i >= 3 * kSlots && size < slot_size[k]) size = slot_size[k] + (4u << 20);
    if (size > (40u << 20)) size = 40u << 20;
    void* p = malloc(size);
    if (p == NULL) {
      FAILF("malloc(%zu) failed\n", size);
      return 2;
    }
    memset(p, 0x5a, size);
    if (slot[k]) {
      free(slot[k]);
      live -= slot_size[k];
    }
    slot[k] = p;
    slot_size[k] = size;
    live += size;
  }
  size_t peak = rss_bytes();
  for (int k = 0; k < kSlots; k++) free(slot[k]);
  double t0 = now_s();
  say("info: %zu MiB live at the end; RSS base %.1f MiB, peak %.1f MiB\n", live >> 20, base / 1048576.0,
      peak / 1048576.0);
  say("info: RSS after the last free (ms MiB):");
  double under_at = -1;
  for (long ms = 0; ms <= idle_ms; ms += 100) {
    double wait = t0 + ms / 1000.0 - now_s();
    if (wait > 0) sleep_us((long)(wait * 1e6));
    size_t r = rss_bytes();
    say(" %ld %.1f", ms, r / 1048576.0);
    if (under_at < 0 && r < (10u << 20)) under_at = (now_s() - t0) * 1000;
  }
  say("\n");
  say("info: under 10 MiB after %.0f ms%s\n", under_at, under_at < 0 ? " (never)" : "");
  if (peak < base + (900u << 20)) FAILF("the 1 GiB was not resident at the peak (test broken)\n");
  if (check && (under_at < 0 || under_at > delay_ms + 1000))
    FAILF("RSS not under 10 MiB within %ld ms of freeing 1 GiB (at %.0f ms)\n", delay_ms + 1000, under_at);
  return g_failures ? 1 : 0;
}
