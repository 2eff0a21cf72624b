// Large blocks: arena runs and mappings of their own (see large.h).
#include "allocator/large.h"

#include <atomic>
#include <string.h>

#include "allocator/arena.h"
#include "allocator/config.h"
#include "allocator/fork_child.h"
#include "allocator/meta.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/page_map.h"
#include "allocator/runtime.h"

namespace brkmalloc {

namespace {

std::atomic<size_t> g_count, g_bytes, g_requested, g_mapped_count, g_mapped_bytes;

// What the page map says of a mapped block's page after the block is freed, until the address is used
// again: a free of it is then reported as a double free, not as a pointer we never returned.
Span g_freed_large{};

void account(const Span* s, int sign) {
  g_count.fetch_add(size_t(sign), std::memory_order_relaxed);
  g_bytes.fetch_add(size_t(sign) * s->bytes, std::memory_order_relaxed);
  g_requested.fetch_add(size_t(sign) * s->requested, std::memory_order_relaxed);
  if (!s->in_arena) {
    g_mapped_count.fetch_add(size_t(sign), std::memory_order_relaxed);
    g_mapped_bytes.fetch_add(size_t(sign) * s->bytes, std::memory_order_relaxed);
  }
}

void* arena_block(size_t size, size_t bytes, size_t align, bool zero, bool resident_only = false) {
  size_t align_pages = align > kPageSize ? align >> kPageShift : 1;
  Span* s = arena_alloc(bytes >> kPageShift, kLarge, align_pages, resident_only);
  if (!s) return nullptr;
  s->start = s->base;
  s->requested = size;
  s->in_arena = 1;
  account(s, 1);
  // Dirty pages may hold another block's data; clean ones (fresh or purged) read as zero already.
  if (zero && s->dirty) memset(reinterpret_cast<void*>(s->start), 0, s->bytes);
  return reinterpret_cast<void*>(s->start);
}

void* mapped_block(size_t size, size_t bytes, size_t align) {
  void* p = os::map(bytes, align > kPageSize ? align : kPageSize);
  if (!p) return nullptr;
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
  return p;  // a fresh mapping is zero
}

}  // namespace

void* large_alloc(size_t size, size_t align, bool zero) {
  if (fork_child_stuck()) return fork_child_alloc(size, align);  // fresh pages: zero
  size_t bytes = align_up(size, kPageSize);
  if (bytes < size) return nullptr;
  // mmap_max 0 (glibc's M_MMAP_MAX): no block gets a mapping of its own.
  bool in_arena = (size <= mmap_threshold() || g_options.mmap_max <= 0) && align <= kMaxArenaAlign;
  if (in_arena) return arena_block(size, bytes, align, zero);
  // Above a threshold that still rises by itself: resident arena pages serve it if they can (a block
  // replaced by a bigger one then reuses its pages instead of mapping fresh ones, which fault in).
  if (align <= kMaxArenaAlign && !__atomic_load_n(&g_options.threshold_fixed, __ATOMIC_RELAXED) &&
      g_options.mmap_max > 0)
    if (void* p = arena_block(size, bytes, align, zero, true)) return p;
  if (void* p = mapped_block(size, bytes, align)) return p;
  // mmap failed (RLIMIT_AS, or address space held by the arenas): free arena pages may still serve it.
  return align <= kMaxArenaAlign ? arena_block(size, bytes, align, zero) : nullptr;
}

void large_free(Span* s) {
  account(s, -1);
  // As glibc, freeing a block above the threshold raises it (not for blocks large by alignment alone).
  if (s->requested > mmap_threshold()) raise_mmap_threshold(s->bytes);
  if (s->in_arena) {
    s->in_arena = 0;
    arena_free(s);
    return;
  }
  page_map_set(s->start, kPageSize, &g_freed_large);
  void* p = reinterpret_cast<void*>(s->base);
  size_t bytes = s->bytes;
  meta_delete_span(s);
  os::unmap(p, bytes);
}

void* large_resize(Span* s, size_t size) {
  size_t bytes = align_up(size, kPageSize);
  if (bytes < size) return nullptr;
  void* old = reinterpret_cast<void*>(s->base);
  if (s->in_arena) {
    account(s, -1);
    bool ok = arena_resize(s, bytes >> kPageShift);
    if (ok) s->requested = size;
    account(s, 1);
    return ok ? old : nullptr;
  }
  void* p = old;
  if (bytes != s->bytes) {
    // After mremap has moved the pages nothing may fail: the spare leaf makes the page-map store below
    // certain. The old address is marked freed first: once mremap releases it, another thread may map it
    // and register its own block there, which a later store of ours would clobber.
    if (!page_map_keep_spare()) return nullptr;
    page_map_set(s->start, kPageSize, &g_freed_large);
    p = os::remap(old, s->bytes, bytes);
    page_map_set(uintptr_t(p ? p : old), kPageSize, s);
    if (!p) return nullptr;
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
                    g_requested.load(std::memory_order_relaxed), g_mapped_count.load(std::memory_order_relaxed),
                    g_mapped_bytes.load(std::memory_order_relaxed)};
}

}  // namespace brkmalloc
