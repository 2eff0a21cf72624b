// The C entry points: every allocation function glibc exports, each forwarding to the prefixed API in
// allocator/brkmalloc.h (the C++ operators are in cxx_operators.cc). The core knows nothing of these names;
// this file knows nothing of the core's insides. Built without exceptions (preload/BUILD), so it needs no
// C++ runtime. Part of libbrkmalloc.so (LD_PRELOAD; exports limited by exports.map) and libbrkmalloc.a
// (static linking; it also defines glibc's internal malloc.o names so that a `-static` program never pulls
// glibc's malloc in beside ours).
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "allocator/brkmalloc.h"

#define BRK_EXPORT extern "C" __attribute__((visibility("default")))
#define BRK_ALIAS(name) __attribute__((alias(#name), visibility("default")))
// The allocating entry points live in the section whose frames the heap profiler cuts off its stacks
// (allocator/prof.h, BRK_ALLOC_PATH).
#define BRK_ALLOCATING BRK_EXPORT __attribute__((section("brk_alloc_path")))

// ---- C entry points ---------------------------------------------------------------------------------
BRK_ALLOCATING void* malloc(size_t n) noexcept { return brk_malloc(n); }
BRK_EXPORT void free(void* p) noexcept { brk_free(p); }
BRK_ALLOCATING void* calloc(size_t c, size_t n) noexcept { return brk_calloc(c, n); }
BRK_ALLOCATING void* realloc(void* p, size_t n) noexcept { return brk_realloc(p, n); }
BRK_ALLOCATING void* reallocarray(void* p, size_t c, size_t n) noexcept { return brk_reallocarray(p, c, n); }
BRK_ALLOCATING void* memalign(size_t a, size_t n) noexcept { return brk_memalign(a, n); }
BRK_ALLOCATING int posix_memalign(void** out, size_t a, size_t n) noexcept { return brk_posix_memalign(out, a, n); }
BRK_ALLOCATING void* aligned_alloc(size_t a, size_t n) noexcept { return brk_aligned_alloc(a, n); }
BRK_ALLOCATING void* valloc(size_t n) noexcept { return brk_valloc(n); }
BRK_ALLOCATING void* pvalloc(size_t n) noexcept { return brk_pvalloc(n); }
BRK_EXPORT size_t malloc_usable_size(void* p) noexcept { return brk_usable_size(p); }
BRK_EXPORT void free_sized(void* p, size_t n) noexcept { brk_free_sized(p, n); }
BRK_EXPORT void free_aligned_sized(void* p, size_t a, size_t n) noexcept { brk_free_aligned_sized(p, a, n); }
BRK_EXPORT int malloc_trim(size_t pad) noexcept { return brk_trim(pad); }

// glibc's parameters and answers; the settings live in the core's options table (allocator/options.cc).
namespace brkmalloc { int options_mallopt(int param, int value); }
BRK_EXPORT int mallopt(int param, int value) noexcept { return brkmalloc::options_mallopt(param, value); }

// glibc's meaning of every field, for one arena holding all of brkmalloc's memory that has no mapping
// of its own: arena = bytes obtained from the system and still held (purged pages excluded) =
// uordblks + fordblks; ordblks = free chunks (free blocks inside spans, free runs); hblks/hblkhd = blocks
// with their own mapping and their bytes; uordblks = bytes in live blocks of the arena (small blocks as
// their size classes count them, large blocks in arena runs); fordblks = free bytes held; keepcost = what
// malloc_trim would give back now (freed pages not yet returned). smblks, fsmblks (fastbins) and usmblks
// (always 0 in glibc) have no counterpart.
BRK_EXPORT struct mallinfo2 mallinfo2() noexcept {
  brk_stats st;
  brk_get_stats(&st);
  struct mallinfo2 mi = {};
  mi.arena = st.arena_held;
  mi.ordblks = st.free_blocks;
  mi.hblks = st.own_mappings;
  mi.hblkhd = st.own_mapping_bytes;
  mi.uordblks = st.arena_in_use;
  mi.fordblks = st.arena_free;
  mi.keepcost = st.dirty;
  return mi;
}

BRK_EXPORT struct mallinfo mallinfo() noexcept {
  struct mallinfo2 m = mallinfo2();
  struct mallinfo mi = {};
  mi.arena = int(m.arena);
  mi.ordblks = int(m.ordblks);
  mi.hblks = int(m.hblks);
  mi.hblkhd = int(m.hblkhd);
  mi.uordblks = int(m.uordblks);
  mi.fordblks = int(m.fordblks);
  mi.keepcost = int(m.keepcost);
  return mi;
}

BRK_EXPORT void malloc_stats() noexcept { brk_print_stats(2); }

namespace brkmalloc { int stats_xml(FILE* f); }
// As glibc: an unknown option is the return value EINVAL, with errno left alone.
BRK_EXPORT int malloc_info(int options, FILE* f) noexcept {
  if (options != 0) return EINVAL;
  return brkmalloc::stats_xml(f);
}

// Obsolete and internal names with the same meaning.
BRK_EXPORT void cfree(void* p) noexcept BRK_ALIAS(free);
BRK_EXPORT void* __libc_malloc(size_t n) noexcept BRK_ALIAS(malloc);
BRK_EXPORT void __libc_free(void* p) noexcept BRK_ALIAS(free);
BRK_EXPORT void* __libc_calloc(size_t c, size_t n) noexcept BRK_ALIAS(calloc);
BRK_EXPORT void* __libc_realloc(void* p, size_t n) noexcept BRK_ALIAS(realloc);
BRK_EXPORT void* __libc_memalign(size_t a, size_t n) noexcept BRK_ALIAS(memalign);
BRK_EXPORT void* __libc_valloc(size_t n) noexcept BRK_ALIAS(valloc);
BRK_EXPORT void* __libc_pvalloc(size_t n) noexcept BRK_ALIAS(pvalloc);
BRK_EXPORT int __libc_mallopt(int param, int value) noexcept BRK_ALIAS(mallopt);
BRK_EXPORT struct mallinfo __libc_mallinfo() noexcept BRK_ALIAS(mallinfo);
BRK_EXPORT struct mallinfo2 __libc_mallinfo2() noexcept BRK_ALIAS(mallinfo2);
BRK_EXPORT int __posix_memalign(void** out, size_t a, size_t n) noexcept BRK_ALIAS(posix_memalign);

// The rest of glibc's malloc.o, for fully static programs (exports.map keeps them out of the .so).
BRK_EXPORT void* __malloc(size_t n) noexcept BRK_ALIAS(malloc);
BRK_EXPORT void __free(void* p) noexcept BRK_ALIAS(free);
BRK_EXPORT void* __calloc(size_t c, size_t n) noexcept BRK_ALIAS(calloc);
BRK_EXPORT void* __realloc(void* p, size_t n) noexcept BRK_ALIAS(realloc);
BRK_EXPORT void* __memalign(size_t a, size_t n) noexcept BRK_ALIAS(memalign);
BRK_EXPORT void* __valloc(size_t n) noexcept BRK_ALIAS(valloc);
BRK_EXPORT void* __pvalloc(size_t n) noexcept BRK_ALIAS(pvalloc);
BRK_EXPORT int __mallopt(int param, int value) noexcept BRK_ALIAS(mallopt);
BRK_EXPORT struct mallinfo __mallinfo() noexcept BRK_ALIAS(mallinfo);
BRK_EXPORT struct mallinfo2 __mallinfo2() noexcept BRK_ALIAS(mallinfo2);
BRK_EXPORT int __malloc_trim(size_t pad) noexcept BRK_ALIAS(malloc_trim);
BRK_EXPORT size_t __malloc_usable_size(void* p) noexcept BRK_ALIAS(malloc_usable_size);
BRK_EXPORT void __malloc_stats() noexcept BRK_ALIAS(malloc_stats);
BRK_EXPORT int __malloc_info(int options, FILE* f) noexcept BRK_ALIAS(malloc_info);
// Static glibc's fork() calls these around the fork; brkmalloc's own pthread_atfork handlers already
// take and release its locks, so here they do nothing.
BRK_EXPORT void __malloc_fork_lock_parent() noexcept {}
BRK_EXPORT void __malloc_fork_unlock_parent() noexcept {}
BRK_EXPORT void __malloc_fork_unlock_child() noexcept {}
BRK_EXPORT void __malloc_arena_thread_freeres() noexcept {}  // thread exit is handled by brkmalloc's key
BRK_EXPORT void* __glibc_morecore(ptrdiff_t) noexcept { return nullptr; }  // brkmalloc never moves brk
