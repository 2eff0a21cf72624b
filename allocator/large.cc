// Large-object mappings (see large.h).
#include "allocator/large.h"

#include <atomic>

#include "allocator/arena.h"
#include "allocator/config.h"
#include "allocator/meta.h"
#include "allocator/os.h"
#include "allocator/options.h"
#include "allocator/page_map.h"
#include "allocator/runtime.h"

namespace brkmalloc {

namespace {

std::atomic<size_t> g_count, g_bytes, g_requested;

// What the page map says of a large block's page after the block is freed, until the address is used
// again: a free of it is then reported as a double free, not as a pointer we never returned.
Span g_freed_large{};

void account(const Span* s, int sign) {
  g_count.fetch_add(size_t(sign), std::memory_order_relaxed);
  g_bytes.fetch_add(size_t(sign) * s->bytes, std::memory_order_relaxed);
  g_requested.fetch_add(size_t(sign) * s->requested, std::memory_order_relaxed);
}

// When mmap fails (RLIMIT_AS, or address space held by the arenas), pages freed in an arena can still
// serve a large block. It is registered on all its pages (arena spans always are) and goes back to the
// arena when freed; it cannot grow with mremap, so realloc moves it.
void* arena_fallback(size_t size, size_t bytes, size_t align) {
  if (align > kPageSize) return nullptr;
  Span* s = arena_alloc(bytes >> kPageShift, kLarge);
  if (!s) return nullptr;
  s->start = s->base;
  s->requested = size;
  s->in_arena = 1;
  account(s, 1);
  return reinterpret_cast<void*>(s->start);
}

}  // namespace

void* large_alloc(size_t size, size_t align) {
  size_t bytes = align_up(size, kPageSize);
  if (bytes < size) return nullptr;
  void* p = os::map(bytes, align > kPageSize ? align : kPageSize);
  if (!p) return arena_fallback(size, bytes, align);
  Span* s = meta_new_span();
  if (!s || !page_map_set(uintptr_t(p), kPageSize, s)) {
    if (s) meta_delete_span(s);
    os::unmap(p, bytes);
    return nullptr;
  }
  s->start = s->base = uintptr_t(p);
  s->bytes = bytes;
  s->requested = size;
  s->kind = kLarge;
  account(s, 1);
  return p;
}

void large_free(Span* s) {
  account(s, -1);
  if (s->in_arena) {
    s->in_arena = 0;
    arena_free(s);
    return;
  }
  page_map_set(s->start, kPageSize, &g_freed_large);
  void* p = reinterpret_cast<void*>(s->base);
  size_t bytes = s->bytes;
  if (s->requested > mmap_threshold()) raise_mmap_threshold(bytes);  // not for blocks large by alignment
  meta_delete_span(s);
  os::unmap(p, bytes);
}

void* large_resize(Span* s, size_t size) {
  size_t bytes = align_up(size, kPageSize);
  if (bytes < size) return nullptr;
  if (s->in_arena) return nullptr;
  void* old = reinterpret_cast<void*>(s->base);
  void* p = old;
  if (bytes != s->bytes) {
    // In place when the neighbourhood allows; otherwise onto a fresh mapping whose page-map leaf is
    // ready, so that nothing can fail after the pages have moved.
    p = os::remap(old, s->bytes, bytes, nullptr);
    if (!p) {
      void* dest = os::map(bytes, kPageSize);
      if (!dest) return nullptr;
      if (!page_map_set(uintptr_t(dest), kPageSize, s)) {
        os::unmap(dest, bytes);
        return nullptr;
      }
      // The old address is marked freed before mremap releases it: once released, another thread may
      // map it and register its own block there, and a later store of ours would clobber that entry.
      page_map_set(s->start, kPageSize, &g_freed_large);
      if (!os::remap(old, s->bytes, bytes, dest)) {
        page_map_set(s->start, kPageSize, s);
        page_map_set(uintptr_t(dest), kPageSize, nullptr);
        os::unmap(dest, bytes);
        return nullptr;
      }
      p = dest;
    }
  }
  account(s, -1);
  s->start = s->base = uintptr_t(p);
  s->bytes = bytes;
  s->requested = size;
  account(s, 1);
  return p;
}

LargeStats large_stats() {
  return LargeStats{g_count.load(std::memory_order_relaxed), g_bytes.load(std::memory_order_relaxed),
                    g_requested.load(std::memory_order_relaxed)};
}

}  // namespace brkmalloc
