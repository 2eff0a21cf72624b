// Fatal misuse reports and warnings. Written with write(2) from a stack buffer: reporting must work
// when the heap is corrupt and must never call back into the allocator.
#ifndef BRK_REPORT_H
#define BRK_REPORT_H

#include <stddef.h>

namespace brkmalloc {

// Prints "brkmalloc: <what> 0x<p>" and aborts (SIGABRT), before any metadata is changed.
[[noreturn]] void fatal_pointer(const char* what, const void* p);
// Prints "brkmalloc: sized free of 0x<p> with wrong size <n>" and aborts.
[[noreturn]] void fatal_sized_free(const void* p, size_t n);

// Small formatting helpers over a caller's buffer, for messages and stats without malloc.
struct Writer {
  char* buf;
  size_t cap;
  size_t len = 0;
  Writer& str(const char* s);
  Writer& dec(size_t v);
  Writer& dec(size_t v, unsigned width);  // right-aligned in `width` columns, as printf's %10u
  Writer& hex(size_t v);
  void flush(int fd);  // writes what is buffered and empties the buffer
};

}  // namespace brkmalloc

#endif
