// Misuse reports: one line on stderr, then abort(). Nothing here allocates.
#include "allocator/report.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

namespace brkmalloc {

Writer& Writer::str(const char* s) {
  while (*s && len < cap) buf[len++] = *s++;
  return *this;
}

Writer& Writer::dec(size_t v) {
  char tmp[24];
  int n = 0;
  do { tmp[n++] = char('0' + v % 10); v /= 10; } while (v);
  while (n && len < cap) buf[len++] = tmp[--n];
  return *this;
}

Writer& Writer::dec(size_t v, unsigned width) {
  unsigned digits = 1;
  for (size_t t = v; t >= 10; t /= 10) digits++;
  for (; width > digits && len < cap; width--) buf[len++] = ' ';
  return dec(v);
}

Writer& Writer::hex(size_t v) {
  char tmp[20];
  int n = 0;
  do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  while (n && len < cap) buf[len++] = tmp[--n];
  return *this;
}

void Writer::flush(int fd) {
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, buf + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += size_t(w);
  }
  len = 0;
}

void fatal_pointer(const char* what, const void* p) {
  char buf[160];
  Writer w{buf, sizeof buf};
  w.str("brkmalloc: ").str(what).str(" 0x").hex(reinterpret_cast<size_t>(p)).str("\n").flush(2);
  abort();
}

void fatal_sized_free(const void* p, size_t n) {
  char buf[160];
  Writer w{buf, sizeof buf};
  w.str("brkmalloc: sized free of 0x").hex(reinterpret_cast<size_t>(p)).str(" with wrong size ").dec(n).str("\n").flush(2);
  abort();
}

}  // namespace brkmalloc
