// Shared helpers for the misuse programs: report values to the runner on stdout without stdio buffering
// (so nothing is lost when the program aborts) and hide pointers from the optimiser.
#ifndef TESTS_MISUSE_MISUSE_COMMON_H
#define TESTS_MISUSE_MISUSE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Returns p unchanged, but the compiler can no longer reason about where it came from
// (keeps GCC from folding away or rejecting a deliberately bad free).
template <typename T>
static inline T* launder_ptr(T* p) {
  asm volatile("" : "+r"(p));
  return p;
}

// Makes the compiler assume the memory behind p is read here (keeps stores into blocks from being dropped).
static inline void escape(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

// Writes "key=value\n" to stdout with write(2): no malloc, no buffering.
static inline void report_line(const char* key, const char* value) {
  char line[256];
  int n = snprintf(line, sizeof line, "%s=%s\n", key, value);
  if (n > 0) {
    ssize_t w = write(1, line, (size_t)n);
    (void)w;
  }
}

// Reports an address as the messages print it: 0x + lowercase hex without leading zeros.
static inline void report_addr(const char* key, const void* p) {
  char value[32];
  snprintf(value, sizeof value, "0x%lx", (unsigned long)(uintptr_t)p);
  report_line(key, value);
}

static inline void report_size(const char* key, size_t n) {
  char value[32];
  snprintf(value, sizeof value, "%zu", n);
  report_line(key, value);
}

// Marks that the misuse call returned (the allocator did not stop the program).
static inline void report_survived() { report_line("survived", "1"); }

// The overflow programs: a block of `size` bytes, filled, then `len` bytes written just past its requested
// end (1: a NUL, as a string one byte too long; 8: a word of 'A', as a pointer-sized field), then freed.
static inline int overflow_then_free(size_t size, size_t len) {
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 'a', size);
  report_addr("addr", p);
  const uint64_t word = 0x4141414141414141ull;
  if (len == 1) p[size] = 0;
  else memcpy(p + size, &word, len);
  escape(p);
  free(p);
  report_survived();
  return 0;
}

// The write-after-free programs: after the write through the dangling pointer, 2,000 more malloc/free
// pairs of that size, so that an allocator that checks freed blocks when it hands them out has every
// chance to look.
static inline void keep_allocating(size_t size, int fill) {
  for (int i = 0; i < 2000; i++) {
    char* r = static_cast<char*>(malloc(size));
    if (r) memset(r, fill, size);
    escape(r);
    free(r);
  }
}
// A block of `size` bytes, filled and freed: its dangling pointer.
static inline char* filled_block_freed(size_t size) {
  char* p = launder_ptr(static_cast<char*>(malloc(size)));
  memset(p, 'a', size);
  escape(p);
  char* dangling = launder_ptr(p);
  free(p);
  return dangling;
}

#endif
