// The override: every allocation entry point glibc and libstdc++ export, each forwarding to the
// prefixed API in allocator/brkmalloc.h. The core knows nothing of these names; this file knows nothing
// of the core's insides. Built into libbrkmalloc.so (LD_PRELOAD; exports limited by exports.map) and
// libbrkmalloc.a (static linking; it also defines glibc's internal malloc.o names so that a `-static`
// program never pulls glibc's malloc in beside ours).
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <new>

#include "allocator/brkmalloc.h"

#define BRK_EXPORT extern "C" __attribute__((visibility("default")))
#define BRK_ALIAS(name) __attribute__((alias(#name), visibility("default")))

// ---- C entry points ---------------------------------------------------------------------------------
BRK_EXPORT void* malloc(size_t n) noexcept { return brk_malloc(n); }
BRK_EXPORT void free(void* p) noexcept { brk_free(p); }
BRK_EXPORT void* calloc(size_t c, size_t n) noexcept { return brk_calloc(c, n); }
BRK_EXPORT void* realloc(void* p, size_t n) noexcept { return brk_realloc(p, n); }
BRK_EXPORT void* reallocarray(void* p, size_t c, size_t n) noexcept { return brk_reallocarray(p, c, n); }
BRK_EXPORT void* memalign(size_t a, size_t n) noexcept { return brk_memalign(a, n); }
BRK_EXPORT int posix_memalign(void** out, size_t a, size_t n) noexcept { return brk_posix_memalign(out, a, n); }
BRK_EXPORT void* aligned_alloc(size_t a, size_t n) noexcept { return brk_aligned_alloc(a, n); }
BRK_EXPORT void* valloc(size_t n) noexcept { return brk_valloc(n); }
BRK_EXPORT void* pvalloc(size_t n) noexcept { return brk_pvalloc(n); }
BRK_EXPORT size_t malloc_usable_size(void* p) noexcept { return brk_usable_size(p); }
BRK_EXPORT void free_sized(void* p, size_t n) noexcept { brk_free_sized(p, n); }
BRK_EXPORT void free_aligned_sized(void* p, size_t a, size_t n) noexcept { brk_free_aligned_sized(p, a, n); }
BRK_EXPORT int malloc_trim(size_t pad) noexcept { return brk_trim(pad); }

// glibc's parameters and answers; the settings live in the core's options table (allocator/options.cc).
namespace brkmalloc { int options_mallopt(int param, int value); }
BRK_EXPORT int mallopt(int param, int value) noexcept { return brkmalloc::options_mallopt(param, value); }

BRK_EXPORT struct mallinfo2 mallinfo2() noexcept {
  brk_stats st;
  brk_get_stats(&st);
  struct mallinfo2 mi = {};
  mi.arena = st.arena_break;
  mi.hblks = st.large_count;
  mi.hblkhd = st.large_allocated;
  mi.uordblks = st.allocated - st.large_allocated;
  mi.fordblks = st.arena_break > mi.uordblks ? st.arena_break - mi.uordblks : 0;
  mi.keepcost = st.dirty;
  return mi;
}

BRK_EXPORT struct mallinfo mallinfo() noexcept {
  struct mallinfo2 m = mallinfo2();
  struct mallinfo mi = {};
  mi.arena = int(m.arena);
  mi.hblks = int(m.hblks);
  mi.hblkhd = int(m.hblkhd);
  mi.uordblks = int(m.uordblks);
  mi.fordblks = int(m.fordblks);
  mi.keepcost = int(m.keepcost);
  return mi;
}

BRK_EXPORT void malloc_stats() noexcept { brk_print_stats(2); }

namespace brkmalloc { int stats_xml(FILE* f); }
BRK_EXPORT int malloc_info(int options, FILE* f) noexcept {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
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

// ---- C++ operators ----------------------------------------------------------------------------------
// One template serves every new: plain/aligned x throwing/nothrow. On failure it calls the new-handler
// until it succeeds or there is none, then throws std::bad_alloc (or returns nullptr for nothrow).
namespace {

template <bool kNothrow>
__attribute__((noinline)) void* new_retry(size_t n, size_t align) {
  for (;;) {
    std::new_handler handler = std::get_new_handler();
    if (!handler) {
      if (kNothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (kNothrow) {
      try {
        handler();
      } catch (const std::bad_alloc&) {
        return nullptr;
      }
    } else {
      handler();
    }
    void* p = align ? brk_aligned_alloc(align, n) : brk_malloc(n);
    if (p) return p;
  }
}

template <bool kNothrow>
inline void* cpp_new(size_t n) {
  void* p = brk_malloc(n);
  return __builtin_expect(p != nullptr, 1) ? p : new_retry<kNothrow>(n, 0);
}

template <bool kNothrow>
inline void* cpp_new_aligned(size_t n, std::align_val_t a) {
  void* p = brk_aligned_alloc(size_t(a), n);
  return __builtin_expect(p != nullptr, 1) ? p : new_retry<kNothrow>(n, size_t(a));
}

}  // namespace

#define BRK_CPP __attribute__((visibility("default")))
BRK_CPP void* operator new(size_t n) { return cpp_new<false>(n); }
BRK_CPP void* operator new[](size_t n) { return cpp_new<false>(n); }
BRK_CPP void* operator new(size_t n, const std::nothrow_t&) noexcept { return cpp_new<true>(n); }
BRK_CPP void* operator new[](size_t n, const std::nothrow_t&) noexcept { return cpp_new<true>(n); }
BRK_CPP void* operator new(size_t n, std::align_val_t a) { return cpp_new_aligned<false>(n, a); }
BRK_CPP void* operator new[](size_t n, std::align_val_t a) { return cpp_new_aligned<false>(n, a); }
BRK_CPP void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return cpp_new_aligned<true>(n, a);
}
BRK_CPP void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return cpp_new_aligned<true>(n, a);
}

BRK_CPP void operator delete(void* p) noexcept { brk_free(p); }
BRK_CPP void operator delete[](void* p) noexcept { brk_free(p); }
BRK_CPP void operator delete(void* p, const std::nothrow_t&) noexcept { brk_free(p); }
BRK_CPP void operator delete[](void* p, const std::nothrow_t&) noexcept { brk_free(p); }
BRK_CPP void operator delete(void* p, size_t n) noexcept { brk_free_sized(p, n); }
BRK_CPP void operator delete[](void* p, size_t n) noexcept { brk_free_sized(p, n); }
BRK_CPP void operator delete(void* p, std::align_val_t) noexcept { brk_free(p); }
BRK_CPP void operator delete[](void* p, std::align_val_t) noexcept { brk_free(p); }
BRK_CPP void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { brk_free(p); }
BRK_CPP void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { brk_free(p); }
BRK_CPP void operator delete(void* p, size_t n, std::align_val_t a) noexcept {
  brk_free_aligned_sized(p, size_t(a), n);
}
BRK_CPP void operator delete[](void* p, size_t n, std::align_val_t a) noexcept {
  brk_free_aligned_sized(p, size_t(a), n);
}
