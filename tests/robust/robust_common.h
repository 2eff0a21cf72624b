// Helpers shared by the robustness programs. They report to the runner on stdout with write(2): no stdio
// buffer (nothing is lost or printed twice across fork(), abort() or a SIGKILL at the timeout) and no
// allocation (several callers run inside signal handlers or forked children of an interrupted malloc).
// Protocol: "info: ..." lines are recorded, "FAIL: ..." lines are failures; exit status 0 iff passed.
#ifndef TESTS_ROBUST_ROBUST_COMMON_H
#define TESTS_ROBUST_ROBUST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// Formats into a stack buffer; vsnprintf of integers and strings does not allocate in glibc. Never called
// from a signal handler (they use say_raw).
__attribute__((format(printf, 1, 2))) static inline void say(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) n = (int)sizeof buf - 1;
  int saved = errno;
  if (n > 0) {
    ssize_t w = write(1, buf, (size_t)n);
    (void)w;
  }
  errno = saved;
}

// For signal handlers: a constant string, async-signal-safe.
static inline void say_raw(const char* s) {
  int saved = errno;
  ssize_t w = write(1, s, strlen(s));
  (void)w;
  errno = saved;
}

static int g_failures __attribute__((unused)) = 0;

#define FAILF(...)        \
  do {                    \
    say("FAIL: " __VA_ARGS__); \
    __atomic_fetch_add(&g_failures, 1, __ATOMIC_RELAXED); \
  } while (0)

static inline double now_s() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Keeps the compiler from dropping stores into a block or a malloc/free pair it can see through.
static inline void escape(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

// A small xorshift generator: rand_r would do, but this one is the same everywhere and cheap in handlers.
static inline uint64_t next_rand(uint64_t* s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

// Reads one line "key value" style number from a /proc file without allocating; returns 0 if missing.
static inline size_t proc_number(const char* path, const char* key) {
  char buf[8192];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* line = key ? strstr(buf, key) : buf;
  if (line == NULL) return 0;
  return strtoull(line + (key ? strlen(key) : 0), NULL, 10);
}

// Resident set size in bytes (second field of /proc/self/statm, in pages).
static inline size_t rss_bytes() {
  char buf[256];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char* p = buf;
  strtoull(p, &p, 10);
  return strtoull(p, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

static inline size_t vm_size_bytes() { return proc_number("/proc/self/status", "VmSize:") * 1024; }

// Parses "--name value" from argv; returns def when absent.
static inline double arg_num(int argc, char** argv, const char* name, double def) {
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return atof(argv[i + 1]);
  return def;
}
static inline const char* arg_str(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return def;
}
static inline int arg_flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], name)) return 1;
  return 0;
}

// What a forked child does before _exit: the allocator must still work in it (small, medium and large
// blocks, calloc zeroing), whatever its parent was doing when fork() was called. Returns 0 if all went well.
static inline int child_allocates() {
  static const size_t kSizes[] = {24, 100, 5000, 70000, 300000};
  void* p[sizeof kSizes / sizeof kSizes[0]];
  for (size_t i = 0; i < sizeof kSizes / sizeof kSizes[0]; i++) {
    p[i] = malloc(kSizes[i]);
    if (p[i] == NULL) return 1;
    memset(p[i], 0x5a, kSizes[i]);
  }
  unsigned char* z = (unsigned char*)calloc(1000, 10);
  if (z == NULL) return 2;
  for (size_t i = 0; i < 10000; i++)
    if (z[i] != 0) return 3;
  p[1] = realloc(p[1], 200000);
  if (p[1] == NULL || ((unsigned char*)p[1])[99] != 0x5a) return 4;
  for (size_t i = 0; i < sizeof kSizes / sizeof kSizes[0]; i++) free(p[i]);
  free(z);
  return 0;
}

#endif
