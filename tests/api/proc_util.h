// Reads /proc/self/maps and /proc/self/statm without allocating (static buffers, raw syscalls), so
// that looking at the address space does not itself disturb the allocator under test.
#ifndef TESTS_API_PROC_UTIL_H
#define TESTS_API_PROC_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

namespace proc_util {

// Reads a whole /proc file into a static buffer; returns its length (0 on failure).
inline size_t read_proc(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t len = 0;
  while (len + 1 < cap) {
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return len;
}

struct Mapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool found = false;
};

// The mapping (line of /proc/self/maps) that contains addr, if any.
inline Mapping mapping_containing(const void* addr) {
  static char buf[4 << 20];
  size_t len = read_proc("/proc/self/maps", buf, sizeof buf);
  uintptr_t a = (uintptr_t)addr;
  Mapping m;
  const char* p = buf;
  const char* end = buf + len;
  while (p < end) {
    char* q;
    uintptr_t s = strtoull(p, &q, 16);
    uintptr_t e = strtoull(q + 1, &q, 16);
    if (s <= a && a < e) {
      m.start = s;
      m.end = e;
      m.found = true;
      return m;
    }
    while (q < end && *q != '\n') q++;
    p = q + 1;
  }
  return m;
}

// Resident set size in bytes (second field of /proc/self/statm, in pages).
inline size_t rss_bytes() {
  static char buf[256];
  if (read_proc("/proc/self/statm", buf, sizeof buf) == 0) return 0;
  char* q;
  strtoull(buf, &q, 10);
  size_t pages = strtoull(q, nullptr, 10);
  return pages * (size_t)sysconf(_SC_PAGESIZE);
}

}  // namespace proc_util

#endif  // TESTS_API_PROC_UTIL_H
