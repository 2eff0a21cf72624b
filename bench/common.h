// Shared helpers for the bench workloads: argument parsing, a seeded PRNG, self-describing
// tagged blocks (so a broken allocator is caught by content checks), checksum and RSS output.
// Workloads use plain malloc/free/new only, so any allocator (preloaded or linked) can run them.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace bench {

struct Args {
  double scale = 1.0;   // multiplies the amount of work
  int threads = 2;      // worker threads (where the workload is threaded)
  int idle_ms = 1500;   // idle phase length (mleak)
  const char* mode = "";  // sub-workload selector
};

inline Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i++) {
    const char* s = argv[i];
    if (!strncmp(s, "--scale=", 8)) a.scale = atof(s + 8);
    else if (!strncmp(s, "--threads=", 10)) a.threads = atoi(s + 10);
    else if (!strncmp(s, "--idle-ms=", 10)) a.idle_ms = atoi(s + 10);
    else if (!strncmp(s, "--mode=", 7)) a.mode = s + 7;
    else { fprintf(stderr, "unknown argument %s\n", s); exit(2); }
  }
  if (a.scale <= 0) a.scale = 1.0;
  if (a.threads < 1) a.threads = 1;
  return a;
}

inline uint64_t scaled(double base, const Args& a) {
  double v = base * a.scale;
  return v < 1 ? 1 : (uint64_t)v;
}

inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(mix(seed + 0x9e3779b97f4a7c15ull)) {}
  uint64_t next() { s += 0x9e3779b97f4a7c15ull; return mix(s); }
  uint32_t below(uint32_t n) { return (uint32_t)(((next() >> 32) * n) >> 32); }
  // Mostly small sizes with a geometric tail: [lo, hi].
  size_t size_skewed(size_t lo, size_t hi) {
    size_t span = hi - lo + 1, r = next();
    unsigned shift = (unsigned)(r & 7);  // halve the range up to 7 times
    size_t lim = span >> shift;
    if (lim == 0) lim = 1;
    return lo + (size_t)((r >> 8) % lim);
  }
};

// A tagged block: [tag | size | fill... | tag at the end]. Minimum size 16.
// The header lets whoever frees it (any thread) verify it without knowing where it came from.
inline void* make_block(size_t n, uint64_t tag, bool fill_all) {
  if (n < 16) n = 16;
  unsigned char* p = (unsigned char*)malloc(n);
  if (!p) { fprintf(stderr, "malloc(%zu) failed\n", n); exit(4); }
  uint64_t sz = n;
  memcpy(p, &tag, 8);
  memcpy(p + 8, &sz, 8);
  if (fill_all && n > 16) memset(p + 16, (int)(tag & 0xff), n - 16);
  if (n >= 24) memcpy(p + n - 8, &tag, 8);
  return p;
}

// Verifies a tagged block; returns its contribution to the checksum and counts damage in *bad.
inline uint64_t check_block(const void* vp, uint64_t* bad) {
  const unsigned char* p = (const unsigned char*)vp;
  uint64_t tag, n, end;
  memcpy(&tag, p, 8);
  memcpy(&n, p + 8, 8);
  if (n < 16 || n > (1ull << 40)) { (*bad)++; return 0; }
  if (n >= 24) {
    memcpy(&end, p + n - 8, 8);
    if (end != tag) (*bad)++;
  }
  return mix(tag ^ (n << 1));
}

inline uint64_t take_block(void* p, uint64_t* bad) {
  uint64_t c = check_block(p, bad);
  free(p);
  return c;
}

// Resident set size in KiB from /proc/self/statm, read without allocating.
inline long rss_kb() {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return -1;
  ssize_t k = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (k <= 0) return -1;
  buf[k] = 0;
  char* q = buf;
  strtol(q, &q, 10);
  long pages = strtol(q, &q, 10);
  return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

inline void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {}
}

// Prints the checksum line the runner compares against glibc's; damaged blocks change it.
// Exit status 3 if any block was damaged.
inline int finish(uint64_t checksum, uint64_t bad) {
  if (bad) checksum ^= 0xbad0bad0bad0bad0ull + bad;
  printf("checksum=%016llx\n", (unsigned long long)checksum);
  printf("bad_blocks=%llu\n", (unsigned long long)bad);
  fflush(stdout);
  return bad ? 3 : 0;
}

}  // namespace bench
