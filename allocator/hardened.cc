// The hardened mode's entry points (see hardened.h): where each block gets its canary and guard page,
// where a free checks, zeroes and quarantines, and where a block handed out again is checked for writes
// made after it was freed. Written once, for every entry point; the default mode never comes here.
//
// Zero-on-free is checked when the block leaves quarantine (the only way back to a free list, so before
// it can be handed out again) and while it waits (each malloc audits one waiting block: quarantine_audit).
//
// A hardened small block is the size class of requested + 8 bytes (at least 32 bytes: the tail word must
// not share the free-list words); a big one is requested + 8 bytes rounded to pages, plus one guard page.
// Every report names the block's start and aborts before anything is changed.
#include "allocator/hardened.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "allocator/fork_child.h"
#include "allocator/hardened_canary.h"
#include "allocator/heap.h"
#include "allocator/large.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/page_map.h"
#include "allocator/report.h"
#include "allocator/runtime.h"

namespace brkmalloc {

bool g_hardened = false;

namespace {

constexpr size_t kMinHardenedBlock = 32;

void* out_of_memory() {
  errno = ENOMEM;
  return nullptr;
}

size_t small_limit() {
  size_t t = mmap_threshold();
  return t < kMaxSmallSize ? t : kMaxSmallSize;
}

unsigned log2_of(size_t pow2) { return unsigned(__builtin_ctzl(pow2)); }

[[noreturn]] void fatal_alignment(const void* p, size_t align) {
  char buf[160];
  Writer w{buf, sizeof buf};
  w.str("brkmalloc: aligned free of 0x").hex(reinterpret_cast<size_t>(p)).str(" with wrong alignment ").dec(align);
  w.str("\n").flush(2);
  abort();
}

// Capacity of a hardened block (what its canary is laid out in).
size_t capacity(const Span* s) { return s->kind == kLarge ? s->bytes - kPageSize : s->block_size; }

// The span of a live block we handed out, or a report naming `who` (api.cc's owned_span, for this mode).
Span* owned(const void* p, const char* who) {
  Span* s = page_map_lookup(p);
  if (s && s->kind == kLarge && p == reinterpret_cast<void*>(s->start)) return s;
  if (s && s->kind == kSmall && block_start(s, p) && !marked_free(static_cast<const Block*>(p))) return s;
  fatal_pointer(who, p);
}

// The requested size (and alignment) of a live block, or a report of the overwritten canary.
size_t checked_size(const void* p, const Span* s, unsigned* align_log) {
  size_t n;
  unsigned a;
  if (!canary_check(p, capacity(s), &n, &a)) fatal_pointer("write past the end of", p);
  if (align_log) *align_log = a;
  return n;
}

// Words 2 .. end - 1 (after the free-list words; end <= cap/8 - 1, the tail) all zero? Sixteen bytes at a
// time (blocks are 16-aligned, so word 2 is too) and no branch inside the loop: a freed block is almost
// always clean.
bool zero_words(const void* p, size_t end) {
  typedef uint64_t V __attribute__((vector_size(16)));
  const uint64_t* w = static_cast<const uint64_t*>(p);
  size_t i = 2;
  V acc = {0, 0}, acc2 = {0, 0};
  for (; i + 4 <= end; i += 4) {
    acc |= *reinterpret_cast<const V*>(w + i);
    acc2 |= *reinterpret_cast<const V*>(w + i + 2);
  }
  acc |= acc2;
  uint64_t rest = acc[0] | acc[1];
  for (; i < end; ++i) rest |= w[i];
  return rest == 0;
}

// zero: calloc's, which large_alloc does without touching pages known to be zero.
void* big_alloc(size_t size, size_t align, bool zero) {
  size_t bytes = align_up(size + kTailBytes, kPageSize);
  void* p = large_alloc(bytes + kPageSize, align, zero);
  if (!p) return nullptr;
  if (fork_child_owns(p)) return p;
  // Best effort: the kernel may refuse to split one more mapping (vm.max_map_count); the canary stays.
  os::protect(static_cast<char*>(p) + bytes, kPageSize, false);
  canary_seal(p, size, log2_of(align), bytes);
  return p;
}

void big_free(void* p, Span* s) {
  checked_size(p, s, nullptr);
  // An arena run's pages go back to the arena, which expects them readable and writable.
  if (s->in_arena) os::protect(reinterpret_cast<char*>(s->base) + s->bytes - kPageSize, kPageSize, true);
  free_checked(p, s);
}

}  // namespace

void hardened_init() {
  canary_init(g_secrets.link * 0x9e3779b97f4a7c15ull ^ g_secrets.mark);
  zero_size_init();
}

namespace {

void* alloc_block(size_t size, size_t align, bool zero) {
  runtime_init();
  if (size == 0 && align <= kMinAlign) {
    if (void* p = zero_size_alloc()) return p;
  }
  if (size > kMaxHardenedSize) return out_of_memory();
  size_t need = size + kTailBytes < kMinHardenedBlock ? kMinHardenedBlock : size + kTailBytes;
  if (align <= kPageSize && align_up(need, align) <= small_limit()) {
    unsigned cls = align <= kMinAlign ? size_to_class(need) : aligned_class(need, align);
    if (cls < kNumClasses) {
      quarantine_audit();
      void* p = heap_alloc(tls_heap, cls);
      if (!p) return out_of_memory();
      if (fork_child_owns(p)) return p;
      size_t cap = class_size(cls);
      static_cast<Block*>(p)->link = 0;  // the program sees no free-list word
      if (zero) memset(p, 0, size);
      canary_seal(p, size, log2_of(align), cap);
      return p;
    }
  }
  void* p = big_alloc(size, align, zero);
  return p ? p : out_of_memory();
}

}  // namespace

void* hardened_alloc(size_t size, size_t align) { return alloc_block(size, align, false); }
void* hardened_calloc(size_t total) { return alloc_block(total, kMinAlign, true); }

namespace {

// hardened_free once p is known to be a live small block of s whose canary was checked.
void quarantine_block(void* p, Span* s) {
  Block* b = static_cast<Block*>(p);
  size_t cap = s->block_size;
  memset(p, 0, cap);
  b->mark = free_mark(b);  // free in quarantine: a second free is a double free
  *tail_of(p, cap) = free_tag(p, cap);
  quarantine_push(b, cap);
}

}  // namespace

void hardened_free(void* p, Span* s) {
  if (!p) return;
  if (zero_size_owns(p)) return zero_size_free(p);
  if (fork_child_owns(p) || fork_child_stuck()) return free_checked(p, s);  // as the default mode does
  // Anything that is not a live block start: the checked path reports it (invalid pointer, double free).
  if (s && s->kind == kLarge && p == reinterpret_cast<void*>(s->start)) return big_free(p, s);
  Block* b = static_cast<Block*>(p);
  if (!s || s->kind != kSmall || !block_start(s, p) || marked_free(b)) return free_checked(p, s);
  checked_size(p, s, nullptr);
  quarantine_block(p, s);
}

// The audit checks at most the first kAuditWords words of a block (a write into a bigger one's far part is
// found when it leaves): a malloc should not scan a kilobyte for a bug that the release finds anyway.
constexpr size_t kAuditWords = 32;

void quarantine_check(const Block* b, size_t cap, bool audit) {
  size_t end = cap / 8 - 1;
  if (audit && end > kAuditWords) end = kAuditWords;
  if (b->link || b->mark != free_mark(b) || *tail_of(b, cap) != free_tag(b, cap) || !zero_words(b, end))
    fatal_pointer("write after free into", b);
}

// The last check of a freed block: it is handed out again only after this. Its tag is wiped, because once
// the block is really free its span may go back to the arena, and the pages may serve other blocks, which
// may leave the tag in place and write elsewhere (a tag on a block handed out again proves nothing).
void quarantine_release(Block* b, size_t cap) {
  quarantine_check(b, cap, false);
  *tail_of(b, cap) = 0;
  b->mark = 0;  // live again for free_checked, which frees it for real
  free_checked(b, page_map_lookup(b));
}

void* hardened_realloc(void* p, size_t size) {
  if (!p) return hardened_alloc(size, kMinAlign);
  if (size == 0) {  // as glibc: frees and returns NULL
    hardened_free(p, page_map_lookup(p));
    return nullptr;
  }
  size_t have;
  if (zero_size_owns(p)) {
    if (!zero_size_live(p)) fatal_pointer("realloc of invalid pointer", p);
    have = 0;
  } else if (fork_child_owns(p)) {
    have = fork_child_size(p);
  } else {
    Span* s = owned(p, "realloc of invalid pointer");
    unsigned align_log;
    have = checked_size(p, s, &align_log);
    size_t cap = capacity(s);
    // In place while the new size fits and wastes no more than the classes would (big: same pages).
    bool fits = size <= kMaxHardenedSize && size + kTailBytes <= cap &&
                (s->kind == kLarge ? size + kTailBytes + kPageSize > cap
                                   : 2 * (size + kTailBytes) >= cap || cap == kMinHardenedBlock);
    if (fits) {
      canary_seal(p, size, align_log, cap);
      return p;
    }
  }
  void* q = hardened_alloc(size, kMinAlign);
  if (!q) return nullptr;  // errno set; the old block intact
  memcpy(q, p, size < have ? size : have);
  hardened_free(p, page_map_lookup(p));
  return q;
}

size_t hardened_usable_size(const void* p) {
  if (zero_size_owns(p)) {
    if (!zero_size_live(p)) fatal_pointer("malloc_usable_size of invalid pointer", p);
    return 0;
  }
  if (fork_child_owns(p)) return fork_child_size(p);
  return checked_size(p, owned(p, "malloc_usable_size of invalid pointer"), nullptr);
}

void hardened_free_sized(void* p, size_t align, size_t size) {
  if (!p) return;
  if (zero_size_owns(p)) {
    if (size != 0) fatal_sized_free(p, size);
    return zero_size_free(p);
  }
  if (fork_child_owns(p)) return;
  Span* s = owned(p, "free of invalid pointer");
  unsigned align_log;
  // Exactly what was asked for: the size, and (aligned forms) the alignment.
  if (checked_size(p, s, &align_log) != size) fatal_sized_free(p, size);
  if (align && (align_log != log2_of(align < kMinAlign ? kMinAlign : align) || !is_pow2(align)))
    fatal_alignment(p, align);
  if (s->kind == kSmall && !fork_child_stuck()) return quarantine_block(p, s);  // checked: owned, canary
  hardened_free(p, s);
}

}  // namespace brkmalloc
