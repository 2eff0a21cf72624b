// Runtime settings, defined once in the table in options.cc and read from BRKMALLOC_* environment
// variables on first use. A malformed value is reported once on stderr and the default kept; an unknown
// BRKMALLOC_* name is reported once. mallopt(M_MMAP_THRESHOLD) changes the threshold later.
#ifndef BRK_OPTIONS_H
#define BRK_OPTIONS_H

#include "allocator/config.h"

namespace brkmalloc {

struct Options {
  size_t mmap_threshold = kDefaultMmapThreshold;  // BRKMALLOC_MMAP_THRESHOLD: bytes, K/M/G suffix
  // Set by BRKMALLOC_MMAP_THRESHOLD or mallopt(M_MMAP_THRESHOLD): the threshold no longer rises by itself.
  bool threshold_fixed = false;
  uint64_t purge_delay_ms = 1000;                 // BRKMALLOC_PURGE_DELAY_MS: 0 purges at once
  bool print_stats = false;                       // BRKMALLOC_STATS=1: statistics on stderr at exit
  bool purge_thread = true;                       // BRKMALLOC_PURGE_THREAD=0: no background purger
  bool full_checks = false;                       // BRKMALLOC_CHECKS=full: every check on every call
};

extern Options g_options;

// The threshold changes while other threads read it (mallopt, or the dynamic rise in large.cc).
inline size_t mmap_threshold() { return __atomic_load_n(&g_options.mmap_threshold, __ATOMIC_RELAXED); }

// Parses the environment (once; later calls do nothing). Needs no allocation.
void options_init();
// Parses "123", "64K", "1M", "1G" (case-insensitive); false if malformed or overflowing.
bool parse_size(const char* s, size_t* out);

}  // namespace brkmalloc

#endif
