// The prefixed API (brkmalloc.h): what every entry point promises, on top of the heap and large-object
// layers. Bad input gets the answers documented in README.md ("Errors and misuse").
#include "allocator/brkmalloc.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "allocator/arena.h"
#include "allocator/fork_child.h"
#include "allocator/hardened.h"
#include "allocator/heap.h"
#include "allocator/large.h"
#include "allocator/options.h"
#include "allocator/prof.h"
#include "allocator/runtime.h"
#include "allocator/stats.h"

using namespace brkmalloc;

namespace {

void* out_of_memory() {
  errno = ENOMEM;
  return nullptr;
}

// glibc's perturb byte: a new block (not calloc's) reads as its complement.
void* perturbed(void* p, size_t size) {
  if (int perturb = __atomic_load_n(&g_options.perturb, __ATOMIC_RELAXED)) memset(p, ~perturb & 0xff, size);
  return p;
}

// Sizes up to here come from size classes; larger ones are large blocks (large.h).
size_t small_limit() {
  size_t t = mmap_threshold();
  return t < kMaxSmallSize ? t : kMaxSmallSize;
}

// BRK_ALLOC_PATH (prof.h): every function that may be on the stack between a program's call and the heap
// profiler's sampler, so that the profiler can cut the allocator's own frames off the stacks it records.
BRK_NOINLINE BRK_ALLOC_PATH void* malloc_slow(size_t size) {
  runtime_init();
  if (BRK_UNLIKELY(g_hardened)) return hardened_alloc(size, kMinAlign);  // every malloc comes here then
  if (BRK_UNLIKELY(g_prof_on))
    if (void* p = prof_alloc(size, kMinAlign, false)) return perturbed(p, size);
  void* p;
  if (size <= small_limit()) {
    p = heap_alloc(tls_heap, size_to_class(size));
  } else {
    if (size > size_t(PTRDIFF_MAX)) return out_of_memory();
    p = large_alloc(size, kMinAlign, false);
  }
  return p ? perturbed(p, size) : out_of_memory();
}

BRK_NOINLINE void* refill(Heap* h, unsigned cls) {
  void* p = heap_refill(h, cls);
  return p ? p : out_of_memory();
}

// The fast path: every other case leaves it by a jump, so it needs no stack frame.
BRK_INLINE void* alloc(size_t size) {
  if (BRK_LIKELY(size < g_small_bound)) {
    unsigned cls = kClasses.small[(size + 15) >> 4];
    Heap* h = tls_heap;
    Span* s = h->current[cls];
    if (Block* b = s->free; BRK_LIKELY(b)) return span_pop<false>(s, b);  // full checks: g_small_bound == 0
    return refill(h, cls);
  }
  return malloc_slow(size);
}

// align is a power of two.
BRK_ALLOC_PATH void* alloc_aligned(size_t size, size_t align) {
  if (align <= kMinAlign) return alloc(size);
  runtime_init();
  if (BRK_UNLIKELY(g_hardened)) return hardened_alloc(size, align);
  if (size > size_t(PTRDIFF_MAX) || align > size_t(PTRDIFF_MAX) / 2 + 1) return out_of_memory();
  if (BRK_UNLIKELY(g_prof_on))
    if (void* p = prof_alloc(size, align, false)) return perturbed(p, size);
  void* p;
  if (align <= kPageSize && align_up(size, align) <= small_limit()) {
    unsigned cls = aligned_class(size, align);
    p = cls < kNumClasses ? heap_alloc(tls_heap, cls) : large_alloc(size, align, false);
  } else {
    p = large_alloc(size == 0 ? 1 : size, align, false);
  }
  return p ? perturbed(p, size) : out_of_memory();
}

// The span of a block we handed out, or a report naming `who` and an abort.
Span* owned_span(const void* p, const char* who) {
  Span* s = page_map_lookup(p);
  if (s && s->kind == kLarge && p == reinterpret_cast<void*>(s->start)) return s;
  if (s && s->kind == kSmall && block_start(s, p)) {
    const Block* b = static_cast<const Block*>(p);
    if (b->mark != free_mark(b) && b->mark != remote_mark(b)) return s;
  }
  fatal_pointer(who, p);
}

size_t usable(const Span* s) { return s->kind == kLarge ? s->bytes : s->block_size; }

// realloc under the heap profiler (prof.h), which sees it as a free of the old block and an allocation
// of the new one: the old record is dropped, the countdown charged with the new size. A sampled
// incarnation gets a span of its own (the old one when it was sampled and is big enough, so no copy);
// an unsampled one follows brk_realloc's rules, and a sampled block that fits stays where it is, now
// unrecorded (its free still ends in free_slow, which finds no record).
BRK_NOINLINE BRK_ALLOC_PATH void* realloc_profiled(void* p, Span* s, size_t size) {
  size_t have = usable(s);
  bool was_sampled = s->kind == kLarge && prof_forget_slow(p);
  if (prof_charge(size)) {
    if (was_sampled && size <= have && prof_record(p, size)) return p;
    if (size <= size_t(PTRDIFF_MAX)) {
      if (void* q = prof_sample_block(size, kMinAlign, false)) {
        memcpy(q, p, size < have ? size : have);
        heap_free(p);
        return q;
      }
    }
  }
  if (s->kind == kLarge) {
    if (size > small_limit()) {
      if (size > size_t(PTRDIFF_MAX)) return out_of_memory();
      if (void* q = large_resize(s, size)) return q;
    } else if (was_sampled && size <= have) {
      return p;
    }
  } else if (size <= have && size >= have / 2) {
    return p;
  }
  if (size <= size_t(PTRDIFF_MAX)) tls_prof_left += int64_t(size);  // alloc charges it again: refunded
  void* q = alloc(size);
  if (!q) return nullptr;  // errno set; the old block is intact
  memcpy(q, p, size < have ? size : have);
  heap_free(p);
  return q;
}

}  // namespace

extern "C" {

BRK_ALLOC_PATH void* brk_malloc(size_t size) noexcept { return alloc(size); }

void brk_free(void* p) noexcept { heap_free(p); }

BRK_ALLOC_PATH void* brk_calloc(size_t count, size_t size) noexcept {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return out_of_memory();
  if (total >= g_small_bound) {
    runtime_init();
    if (BRK_UNLIKELY(g_hardened)) return hardened_calloc(total);
    // large_alloc zeroes only what is not known to be zero (a fresh mapping or purged pages are).
    if (total > small_limit()) {
      if (total > size_t(PTRDIFF_MAX)) return out_of_memory();
      if (BRK_UNLIKELY(g_prof_on))
        if (void* p = prof_alloc(total, kMinAlign, true)) return p;
      void* p = large_alloc(total, kMinAlign, true);
      return p ? p : out_of_memory();
    }
  }
  void* p = alloc(total);
  if (p) memset(p, 0, total);
  return p;
}

BRK_ALLOC_PATH void* brk_realloc(void* p, size_t size) noexcept {
  if (BRK_UNLIKELY(g_hardened)) return hardened_realloc(p, size);
  if (!p) return alloc(size);
  if (size == 0) {  // as glibc: frees and returns NULL
    heap_free(p);
    return nullptr;
  }
  if (BRK_UNLIKELY(fork_child_owns(p))) {  // a stuck fork child's block (fork_child.h): moved, not freed
    size_t have = fork_child_size(p);
    void* q = alloc(size);
    if (q) memcpy(q, p, size < have ? size : have);
    return q;
  }
  Span* s = owned_span(p, "realloc of invalid pointer");
  if (BRK_UNLIKELY(g_prof_on)) return realloc_profiled(p, s, size);
  size_t have = usable(s);
  if (s->kind == kLarge) {
    if (size > small_limit()) {
      if (size > size_t(PTRDIFF_MAX)) return out_of_memory();
      if (void* q = large_resize(s, size)) return q;
    }
  } else if (size <= have && size >= have / 2) {
    return p;  // same class or close enough: keep the block
  }
  void* q = alloc(size);
  if (!q) return nullptr;  // errno set; the old block is intact
  memcpy(q, p, size < have ? size : have);
  heap_free(p);
  return q;
}

BRK_ALLOC_PATH void* brk_reallocarray(void* p, size_t count, size_t size) noexcept {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return out_of_memory();
  return brk_realloc(p, total);
}

BRK_ALLOC_PATH void* brk_aligned_alloc(size_t alignment, size_t size) noexcept {
  // glibc 2.36: a non-power-of-two (or zero) alignment is EINVAL; any size is accepted.
  if (!is_pow2(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return alloc_aligned(size, alignment);
}

BRK_ALLOC_PATH int brk_posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  if (!is_pow2(alignment) || alignment < sizeof(void*)) return EINVAL;
  void* p = alloc_aligned(size, alignment);
  if (!p) return ENOMEM;  // errno is ENOMEM too, as glibc sets it
  *out = p;
  return 0;
}

BRK_ALLOC_PATH void* brk_memalign(size_t alignment, size_t size) noexcept {
  // glibc rounds a non-power-of-two alignment up to the next power of two.
  if (!is_pow2(alignment)) {
    if (alignment > SIZE_MAX / 2 + 1) {  // as glibc: no power of two to round up to
      errno = EINVAL;
      return nullptr;
    }
    size_t a = kMinAlign;
    while (a < alignment) a <<= 1;
    alignment = a;
  }
  return alloc_aligned(size, alignment);
}

BRK_ALLOC_PATH void* brk_valloc(size_t size) noexcept { return alloc_aligned(size, kPageSize); }

BRK_ALLOC_PATH void* brk_pvalloc(size_t size) noexcept {
  size_t rounded = align_up(size == 0 ? 1 : size, kPageSize);
  if (rounded < size) return out_of_memory();
  return alloc_aligned(rounded, kPageSize);
}

size_t brk_usable_size(const void* p) noexcept {
  if (!p) return 0;
  if (BRK_UNLIKELY(g_hardened)) return hardened_usable_size(p);
  if (BRK_UNLIKELY(fork_child_owns(p))) return fork_child_size(p);
  return usable(owned_span(p, "malloc_usable_size of invalid pointer"));
}

void brk_free_sized(void* p, size_t size) noexcept {
  if (BRK_UNLIKELY(g_hardened)) return hardened_free_sized(p, 0, size);
  if (!p || fork_child_owns(p)) return;
  Span* s = owned_span(p, "free of invalid pointer");
  size_t have = usable(s);
  // Any size the block could have been allocated (or resized in place) with is accepted.
  bool fits = s->kind == kLarge ? size <= have && size + kPageSize > have
                                : size <= have && (2 * size >= have || have == kMinAlign);
  if (!fits) fatal_sized_free(p, size);
  heap_free(p);
}

void brk_free_aligned_sized(void* p, size_t alignment, size_t size) noexcept {
  if (BRK_UNLIKELY(g_hardened)) return hardened_free_sized(p, alignment, size);
  if (!p || fork_child_owns(p)) return;
  Span* s = owned_span(p, "free of invalid pointer");
  if (size > usable(s) || (alignment && (uintptr_t(p) & (alignment - 1)))) fatal_sized_free(p, size);
  heap_free(p);
}

int brk_trim(size_t pad) noexcept {
  (void)pad;
  runtime_init();
  if (fork_child_stuck()) return 0;
  if (g_hardened) quarantine_flush();  // quarantined blocks are not stranded: trim frees them for real
  heap_reclaim_all(true);
  return arena_purge(true) > 0;
}

void brk_set_mmap_threshold(size_t bytes) noexcept { set_mmap_threshold(bytes); }

size_t brk_mmap_threshold(void) noexcept {
  runtime_init();
  return mmap_threshold();
}

void brk_get_stats(struct brk_stats* out) noexcept {
  runtime_init();
  stats_collect(out, nullptr);
}

void brk_print_stats(int fd) noexcept {
  runtime_init();
  stats_print(fd);
}

}  // extern "C"
