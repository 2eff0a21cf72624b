/* brkmalloc's prefixed API: the allocator without overriding anything.
 *
 * Every function behaves as its libc namesake (brk_malloc as malloc, ...), with the answers to bad input
 * documented in README.md ("Errors and misuse"). Usable from C and C++; link //allocator:brkmalloc
 * (Bazel) or libbrkmalloc.a. The same allocator serves malloc & co. when the override is linked or preloaded. */
#ifndef BRKMALLOC_H
#define BRKMALLOC_H

#include <stddef.h>

/* Exported even though the core is built with hidden visibility; libbrkmalloc.so hides them again. */
#define BRK_API __attribute__((visibility("default")))
#ifdef __cplusplus
#define BRK_NOEXCEPT noexcept
extern "C" {
#else
#define BRK_NOEXCEPT
#endif

BRK_API void* brk_malloc(size_t size) BRK_NOEXCEPT;
BRK_API void  brk_free(void* p) BRK_NOEXCEPT;
BRK_API void* brk_calloc(size_t count, size_t size) BRK_NOEXCEPT;
BRK_API void* brk_realloc(void* p, size_t size) BRK_NOEXCEPT;
BRK_API void* brk_reallocarray(void* p, size_t count, size_t size) BRK_NOEXCEPT;
BRK_API void* brk_aligned_alloc(size_t alignment, size_t size) BRK_NOEXCEPT;
BRK_API int   brk_posix_memalign(void** out, size_t alignment, size_t size) BRK_NOEXCEPT;
BRK_API void* brk_memalign(size_t alignment, size_t size) BRK_NOEXCEPT;
BRK_API void* brk_valloc(size_t size) BRK_NOEXCEPT;
BRK_API void* brk_pvalloc(size_t size) BRK_NOEXCEPT;
BRK_API size_t brk_usable_size(const void* p) BRK_NOEXCEPT;
/* C23: size (and alignment) must be those the block was allocated with; a mismatch aborts. */
BRK_API void  brk_free_sized(void* p, size_t size) BRK_NOEXCEPT;
BRK_API void  brk_free_aligned_sized(void* p, size_t alignment, size_t size) BRK_NOEXCEPT;

/* Returns freed pages to the OS now (all of them; `pad` is accepted for malloc_trim compatibility).
 * Returns 1 if memory was released, 0 otherwise. */
BRK_API int   brk_trim(size_t pad) BRK_NOEXCEPT;

/* Requests above this many bytes get their own mapping. Clamped to [0, BRK_MAX_MMAP_THRESHOLD]. */
#define BRK_MAX_MMAP_THRESHOLD (32u << 20)
BRK_API void   brk_set_mmap_threshold(size_t bytes) BRK_NOEXCEPT;
BRK_API size_t brk_mmap_threshold(void) BRK_NOEXCEPT;

struct brk_stats {
  size_t allocated;       /* bytes in live blocks, as their size classes count them */
  size_t large_allocated; /* of which in blocks above the threshold (own mappings) */
  size_t arena_reserved;  /* address space reserved for the arenas */
  size_t arena_break;     /* bytes below the arenas' break pointers */
  size_t mapped;          /* arena pages handed out + large mappings + metadata, not yet returned */
  size_t resident;        /* the process's resident set, from /proc/self/statm */
  size_t dirty;           /* freed arena bytes not yet returned to the OS */
  size_t purged;          /* bytes returned to the OS so far (madvise, munmap, lowering the break) */
  size_t large_count;     /* live large mappings */
  size_t thread_heaps;    /* heaps created (one per thread that allocated; reused after thread exit) */
  /* The figures of glibc's mallinfo2 and malloc_stats (README "Statistics"): */
  size_t arena_held;        /* arena memory held: small spans, large blocks in arena runs, freed pages not
                               yet returned (purged or never-used pages excluded) */
  size_t arena_in_use;      /* of which in live blocks (small blocks as their classes count them, arena runs) */
  size_t arena_free;        /* the rest: free blocks, span tails, freed pages not yet returned */
  size_t free_blocks;       /* free blocks inside small spans plus free runs */
  size_t own_mappings;      /* large blocks with a mapping of their own */
  size_t own_mapping_bytes; /* their bytes */
  size_t max_own_mappings;  /* highest own_mappings seen by any statistics call (a lower bound of the peak) */
  size_t max_own_mapping_bytes; /* likewise for own_mapping_bytes */
};
BRK_API void brk_get_stats(struct brk_stats* out) BRK_NOEXCEPT;
/* Writes a human-readable report (totals and per size class) to the file descriptor, without allocating. */
BRK_API void brk_print_stats(int fd) BRK_NOEXCEPT;

/* Heap profiling (README "Heap profiles"; on with BRKMALLOC_PROFILE or BRKMALLOC_LEAKS): writes the
 * sampled heap profile, in the heap-profile text format google-pprof reads, to `path`, or with a NULL
 * path to the next <prefix>.<pid>.<seq>.heap of BRKMALLOC_PROFILE. Returns 0, or -1 with errno set:
 * EINVAL when profiling is off (or path is NULL and there is no prefix), else open's or write's errno.
 * libbrkmalloc.so exports it too, so a preloaded program can find it with dlsym(RTLD_DEFAULT, ...). */
BRK_API int brk_prof_dump(const char* path) BRK_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* BRKMALLOC_H */
