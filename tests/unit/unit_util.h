// Helpers shared by the unit tests: page residency (mincore), mapping checks (/proc/self/maps, read
// without allocating so that the check does not disturb the address space it inspects), and a hex
// formatter matching brkmalloc's misuse messages.
#ifndef BRK_TESTS_UNIT_UNIT_UTIL_H
#define BRK_TESTS_UNIT_UNIT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

namespace unit {

constexpr size_t kPage = 4096;

// Pages of [p, p + len) resident in memory, or -1 if part of the range is not mapped at all.
inline long resident_pages(const void* p, size_t len) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(kPage - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(p) + len;
  size_t n = (end - a + kPage - 1) / kPage;
  static unsigned char vec[1 << 16];
  long total = 0;
  for (size_t done = 0; done < n;) {
    size_t chunk = n - done < sizeof vec ? n - done : sizeof vec;
    if (mincore(reinterpret_cast<void*>(a + done * kPage), chunk * kPage, vec) != 0) return -1;
    for (size_t i = 0; i < chunk; ++i) total += vec[i] & 1;
    done += chunk;
  }
  return total;
}

// Is every page of [p, p + len) mapped (whatever its protection)?
inline bool is_mapped(const void* p, size_t len) { return resident_pages(p, len) >= 0; }
// Is no page of [p, p + len) mapped?
inline bool is_unmapped(const void* p, size_t len) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(kPage - 1);
  for (uintptr_t q = a; q < reinterpret_cast<uintptr_t>(p) + len; q += kPage) {
    unsigned char v;
    if (mincore(reinterpret_cast<void*>(q), kPage, &v) == 0 || errno != ENOMEM) return false;
  }
  return true;
}

// The /proc/self/maps line whose range contains [p, p + len), e.g. "7f..-7f.. rw-p 00000000 00:00 0",
// or "" if no single line covers it. Reads into a static buffer: no allocation.
inline std::string maps_line_covering(const void* p, size_t len) {
  static char buf[8 << 20];
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
    if (r <= 0) break;
    n += size_t(r);
  }
  close(fd);
  buf[n] = 0;
  uintptr_t a = reinterpret_cast<uintptr_t>(p), b = a + len;
  for (char* line = buf; *line;) {
    char* eol = strchr(line, '\n');
    if (eol) *eol = 0;
    unsigned long lo = 0, hi = 0;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= a && b <= hi) return std::string(line);
    if (!eol) break;
    line = eol + 1;
  }
  return "";
}

// "0x" + lowercase hex without leading zeros, as brkmalloc prints addresses.
inline std::string hex_addr(const void* p) {
  char b[32];
  snprintf(b, sizeof b, "0x%" PRIxPTR, reinterpret_cast<uintptr_t>(p));
  return b;
}

}  // namespace unit

#endif
