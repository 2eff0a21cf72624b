// TEMPORARY placeholder until the core lands: forwards to glibc.
#include "allocator/brkmalloc.h"
#include <malloc.h>
#include <stdlib.h>
extern "C" {
void* brk_malloc(size_t n) { return malloc(n); }
void brk_free(void* p) { free(p); }
void* brk_calloc(size_t a, size_t b) { return calloc(a, b); }
void* brk_realloc(void* p, size_t n) { return realloc(p, n); }
void* brk_reallocarray(void* p, size_t a, size_t b) { return reallocarray(p, a, b); }
void* brk_aligned_alloc(size_t a, size_t n) { return aligned_alloc(a, n); }
int brk_posix_memalign(void** o, size_t a, size_t n) { return posix_memalign(o, a, n); }
void* brk_memalign(size_t a, size_t n) { return memalign(a, n); }
void* brk_valloc(size_t n) { return valloc(n); }
void* brk_pvalloc(size_t n) { return pvalloc(n); }
size_t brk_usable_size(const void* p) { return malloc_usable_size(const_cast<void*>(p)); }
void brk_free_sized(void* p, size_t) { free(p); }
void brk_free_aligned_sized(void* p, size_t, size_t) { free(p); }
int brk_trim(size_t pad) { return malloc_trim(pad); }
void brk_set_mmap_threshold(size_t) {}
size_t brk_mmap_threshold(void) { return 131072; }
void brk_get_stats(struct brk_stats* s) { *s = brk_stats{}; }
void brk_print_stats(int) {}
}
