// Shared helpers for the stress programs: command-line knobs, seeded RNG, address/size-derived byte
// patterns with first-wrong-byte reporting, resident-set reading, and the allocation entry points
// (plain malloc & co., or brkmalloc's prefixed API when compiled with -DSTRESS_PREFIXED).
#ifndef STRESS_COMMON_H
#define STRESS_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>

#ifdef STRESS_PREFIXED
#include "allocator/brkmalloc.h"
#define S_MALLOC brk_malloc
#define S_FREE brk_free
#define S_CALLOC brk_calloc
#define S_REALLOC brk_realloc
#define S_TRIM() brk_trim(0)
#define S_USABLE brk_usable_size
#else
#define S_MALLOC malloc
#define S_FREE free
#define S_CALLOC calloc
#define S_REALLOC realloc
#define S_TRIM() malloc_trim(0)
#define S_USABLE malloc_usable_size
#endif

namespace stress {

// Options every program accepts:
//   --long            soak mode (minutes instead of seconds)
//   --seconds S       run time of time-bounded phases (overrides the default / --long figure)
//   --scale F         multiply the program's size knobs (block counts, bytes, thread counts)
//   --seed N          RNG seed (printed at start; failures quote it)
//   --strict          the allocator documents brkmalloc's guarantees (16-byte alignment for every size)
//   --promise-return  the allocator promises that malloc_trim(0) returns freed memory: RSS bounds are asserted
//   --expect-brkmalloc  fail unless malloc_info() shows brkmalloc is the allocator in use
//   --threads N       number of worker threads (where the program has a pool of like workers)
struct Options {
  const char* prog = "stress";
  bool long_mode = false;
  double seconds = -1;
  double scale = 1.0;
  uint64_t seed = 0;
  bool strict = false;
  bool promise_return = false;
  bool expect_brkmalloc = false;
  long threads = 0;  // --threads N: overrides the program's worker thread count (for reproducing races)
};

extern Options g_opt;

[[noreturn]] inline void fail(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  // One write, no allocation: the heap may be the thing that broke.
  char line[1200];
  int n = snprintf(line, sizeof line, "FAIL %s seed=%llu: %s\n", g_opt.prog, (unsigned long long)g_opt.seed, buf);
  if (n > 0) {
    ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
  }
  _exit(1);
}

inline void note(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  printf("%s: %s\n", g_opt.prog, buf);
  fflush(stdout);
}

// The duration of a time-bounded phase: `def` seconds normally, `long_def` with --long, --seconds wins.
inline double run_seconds(double def, double long_def) {
  if (g_opt.seconds >= 0) return g_opt.seconds;
  return g_opt.long_mode ? long_def : def;
}

// A size knob: `def` normally, `long_def` with --long, times --scale, at least 1.
inline size_t knob(size_t def, size_t long_def) {
  double v = (double)(g_opt.long_mode ? long_def : def) * g_opt.scale;
  return v < 1 ? 1 : (size_t)v;
}

// The worker thread count: `def` (or `long_def` with --long), unless --threads says otherwise.
inline size_t thread_knob(size_t def, size_t long_def) {
  if (g_opt.threads > 0) return (size_t)g_opt.threads;
  return g_opt.long_mode ? long_def : def;
}

inline double now_s() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// xoshiro-style small fast RNG (splitmix64 seeding).
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  // Uniform in [lo, hi].
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  // Log-uniform in [lo, hi]: small sizes as likely per octave as large ones.
  uint64_t logrange(uint64_t lo, uint64_t hi) {
    int blo = 63 - __builtin_clzll(lo), bhi = 63 - __builtin_clzll(hi);
    int b = (int)range((uint64_t)blo, (uint64_t)bhi);
    uint64_t a = 1ull << b, z = (a << 1) - 1;
    if (a < lo) a = lo;
    if (z > hi) z = hi;
    return range(a, z);
  }
  bool chance(unsigned percent) { return below(100) < percent; }
};

// A block size the way programs ask: mostly small, some medium, a few large (some across 128 KiB).
inline size_t mixed_size(Rng& r, size_t max_size) {
  unsigned c = (unsigned)r.below(1000);
  size_t s;
  if (c < 850) s = r.range(1, 256);
  else if (c < 970) s = r.logrange(257, 16384);
  else if (c < 995) s = r.logrange(16385, 120 * 1024);
  else s = r.range(120 * 1024, 140 * 1024);  // straddles the 128 KiB mmap threshold
  return s > max_size ? max_size : s;
}

// Pattern byte i of a block at address `a` of size `n`: depends on both, and on i with a long period,
// so shifted, swapped, truncated or stale contents all show up.
inline uint8_t pattern_seed(const void* a, size_t n) {
  uint64_t x = (uint64_t)(uintptr_t)a * 0x9E3779B97F4A7C15ull ^ (uint64_t)n * 0xC2B2AE3D27D4EB4Full;
  return (uint8_t)((x >> 56) | 1);
}
inline uint8_t pattern_byte(uint8_t seed, size_t i) {
  return (uint8_t)(seed + (uint8_t)(i * 0x9D) + (uint8_t)((i >> 8) * 0x3B) + (uint8_t)(i >> 16));
}

// Chunk k of 256 bytes holds (base_k + j*0x9D) for j = 0..255, base_k = pattern_byte(seed, 256*k): this is
// pattern_byte computed 256 bytes at a time, in a form the compiler vectorises.
inline void fill_pattern(void* p, size_t n, const void* key_addr, size_t key_size) {
  uint8_t s = pattern_seed(key_addr, key_size);
  uint8_t* b = (uint8_t*)p;
  size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    uint8_t c = pattern_byte(s, i);
    for (unsigned j = 0; j < 256; j++) b[i + j] = (uint8_t)(c + (uint8_t)(j * 0x9D));
  }
  for (; i < n; i++) b[i] = pattern_byte(s, i);
}
inline void fill(void* p, size_t n) { fill_pattern(p, n, p, n); }

// Checks the first `n` bytes of p against the pattern of (key_addr, key_size); fails on the first wrong byte.
inline void check_pattern(const void* p, size_t n, const void* key_addr, size_t key_size, const char* what) {
  uint8_t s = pattern_seed(key_addr, key_size);
  const uint8_t* b = (const uint8_t*)p;
  size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    uint8_t c = pattern_byte(s, i), acc = 0;
    for (unsigned j = 0; j < 256; j++) acc |= (uint8_t)(b[i + j] ^ (uint8_t)(c + (uint8_t)(j * 0x9D)));
    if (acc) break;
  }
  for (; i < n; i++) {
    if (b[i] != pattern_byte(s, i))
      fail("%s: block %p size %zu: byte %zu is 0x%02x, expected 0x%02x (pattern of block %p size %zu)", what, p, n, i,
           b[i], pattern_byte(s, i), key_addr, key_size);
  }
}
inline void check(const void* p, size_t n, const char* what) { check_pattern(p, n, p, n, what); }

inline void check_zero(const void* p, size_t n, const char* what) {
  const uint8_t* b = (const uint8_t*)p;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    uint8_t acc = 0;
    for (size_t j = 0; j < 64; j++) acc |= b[i + j];
    if (acc) break;
  }
  for (; i < n; i++)
    if (b[i]) fail("%s: block %p size %zu: byte %zu is 0x%02x, expected 0", what, p, n, i, b[i]);
}

// Minimum alignment every block must have: 16 under --strict (brkmalloc, glibc); otherwise 16 for blocks of
// 16 bytes or more and 8 below (jemalloc, mimalloc and tcmalloc hand out 8-byte classes).
inline void check_align(const void* p, size_t n, const char* what) {
  size_t a = (g_opt.strict || n >= 16) ? 16 : 8;
  if ((uintptr_t)p % a) fail("%s: block %p of size %zu is not %zu-byte aligned", what, p, n, a);
}

// Resident set size in bytes, from /proc/self/statm (no allocation).
inline size_t rss_bytes() {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) fail("cannot read /proc/self/statm");
  buf[n] = 0;
  unsigned long size = 0, res = 0;
  if (sscanf(buf, "%lu %lu", &size, &res) != 2) fail("cannot parse /proc/self/statm");
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

inline double mib(size_t b) { return (double)b / (1024.0 * 1024.0); }

void parse_args(const char* prog, int argc, char** argv);

// Crash context: each worker records its latest allocator call here (before the call with out = NULL, after
// it with the result). On SIGABRT/SIGSEGV/SIGBUS (e.g. a brkmalloc misuse report) the handler prints every
// worker's record to stderr before dying with the same signal, so a failure names the call that hit it.
struct LastOp {
  const char* op;
  const void* in;
  size_t in_n;
  const void* out;
  size_t out_n;
};
const int kMaxTraced = 64;
extern LastOp g_last[kMaxTraced];
inline void trace(int t, const char* op, const void* in, size_t in_n, const void* out, size_t out_n) {
  if (t < 0 || t >= kMaxTraced) return;
  LastOp& l = g_last[t];
  l.op = nullptr;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  l.in = in;
  l.in_n = in_n;
  l.out = out;
  l.out_n = out_n;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  l.op = op;
}

// Named baseline bug: STRESS_TOLERATE_MIMALLOC_700=1 (mimalloc 2.0.9, microsoft/mimalloc issue #700, fixed after
// 2.0.9): an aligned request whose alignment is 256, 512 or 1024 and whose size is a power of two between the
// alignment and 1024 comes back misaligned. Returns true (and counts the case) if a misaligned block is covered
// by that description; `size` 0 means unknown (C++ objects: the alignment alone decides). Unset: never.
bool tolerate_misaligned(size_t align, size_t size);
uint64_t tolerated_misaligned_count();

}  // namespace stress

#endif  // STRESS_COMMON_H
