// Runtime settings: one Options table, filled once at start-up from three sources, later ones winning
// (the precedence glibc 2.36 gives its own, with ours on top):
//   1. glibc's older variables (MALLOC_MMAP_THRESHOLD_, MALLOC_TOP_PAD_, ...),
//   2. GLIBC_TUNABLES entries glibc.malloc.*,
//   3. BRKMALLOC_* variables.
// A malformed or out-of-range value is reported once on stderr and ignored (the earlier value stays); an
// unknown BRKMALLOC_* name is reported once; other glibc.malloc.* tunables are accepted silently. In secure
// mode (AT_SECURE: set-user-ID and similar programs) nothing is read, as glibc reads none of its malloc
// settings there. mallopt changes the settings later (options_mallopt, with glibc's return values).
#ifndef BRK_OPTIONS_H
#define BRK_OPTIONS_H

#include "allocator/brkmalloc.h"
#include "allocator/config.h"

namespace brkmalloc {

// The parser, mallopt and brk_set_mmap_threshold share one largest threshold (config.h).
static_assert(kMaxMmapThreshold == BRK_MAX_MMAP_THRESHOLD, "brkmalloc.h and config.h disagree");

struct Options {
  size_t mmap_threshold = kDefaultMmapThreshold;  // requests above this get their own mapping
  // Set by any explicit threshold, trim threshold, top pad or mmap max (as glibc's no_dyn_threshold):
  // the threshold no longer rises by itself.
  bool threshold_fixed = false;
  uint64_t purge_delay_ms = 1000;  // freed pages stay resident this long; 0 purges at once
  bool print_stats = false;        // statistics on stderr at exit
  bool purge_thread = true;        // false: no background purger
  bool full_checks = false;        // every check on every call (BRKMALLOC_CHECKS=full, glibc.malloc.check)
  bool hardened = false;           // BRKMALLOC_CHECKS=hardened: full checks plus hardened.h's
  // glibc's trim threshold, when trim_set: freed arena bytes kept resident beyond this are purged at once,
  // without waiting for the delay (the arena's dirty cap, otherwise the recent peak of live arena bytes: decay.h).
  // SIZE_MAX (M_TRIM_THRESHOLD -1): no cap.
  size_t trim_threshold = 0;
  bool trim_set = false;
  // glibc's top pad: extra bytes the break moves beyond what a request needs (then rounded up to the step).
  size_t top_pad = 0;
  // glibc's mmap max: 0 or less means no block gets a mapping of its own while it fits a size class.
  int mmap_max = 65536;
  // glibc's perturb byte: nonzero fills new blocks (except calloc's) with ~byte and freed ones with byte.
  int perturb = 0;
  // glibc.malloc.hugetlb / BRKMALLOC_HUGEPAGES: ask for transparent huge pages on the arenas.
  bool hugepages = false;
  // The heap profiler (prof.h): BRKMALLOC_PROFILE is the path prefix of its profiles (empty: none),
  // BRKMALLOC_LEAKS "1" (stderr) or a file for the leak report at exit (empty: none); either turns
  // sampling on. Copied here: the environment may change after start-up.
  char profile_prefix[256] = {};
  char leaks[256] = {};
  size_t profile_rate = size_t{512} << 10;      // mean bytes between samples
  int profile_signal = 0;                       // a signal that writes a profile (0: none)
  size_t profile_interval = size_t{100} << 20;  // a profile each time estimated in-use bytes grow this much
};

extern Options g_options;

// The threshold changes while other threads read it (mallopt, or the dynamic rise in large.cc).
inline size_t mmap_threshold() { return __atomic_load_n(&g_options.mmap_threshold, __ATOMIC_RELAXED); }

// Parses the process environment into g_options (once; later calls do nothing). Needs no allocation.
void options_init();
// The parser behind it: env is a NULL-terminated "NAME=value" array; warnings go to warn_fd.
void options_parse(const char* const* env, bool secure, Options* out, int warn_fd);
// mallopt(param, value) with glibc 2.36's answers (1 accepted, 0 refused).
int options_mallopt(int param, int value);
// Parses "123", "64K", "1M", "1G" (case-insensitive); false if malformed or overflowing.
bool parse_size(const char* s, size_t* out);
// Parses a number as glibc's tunables do (its _dl_strtoul): leading blanks, an optional sign (minus
// negates modulo 2^64), decimal, 0x hexadecimal or 0-prefixed octal; too large reads as UINT64_MAX.
// Unlike glibc, which reads the leading number and ignores what follows, text after the digits (a
// suffix such as K) makes it malformed: false.
bool parse_glibc_number(const char* s, uint64_t* out);

}  // namespace brkmalloc

#endif
