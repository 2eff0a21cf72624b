// Arenas, free-run bins, coalescing and purging (see arena.h).
#include "allocator/arena.h"

#include "allocator/config.h"
#include "allocator/lock.h"
#include "allocator/meta.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/page_map.h"
#include "allocator/purger.h"

namespace brkmalloc {

Lock g_arena_lock;

namespace {

struct Arena {
  uintptr_t base, brk, committed, end;
};

constexpr unsigned kMaxArenas = 512;
constexpr size_t kBins = 256;  // exact bins for runs of 1..255 pages; bin 0 holds longer runs
constexpr size_t kMaxDirtyBytes = size_t{32} << 20;

Arena g_arenas[kMaxArenas];
unsigned g_num_arenas;
SpanList g_bins[kBins];
uint64_t g_bin_bits[kBins / 64];  // which exact bins are non-empty
Span* g_dirty_head;  // purge queue, oldest first
Span* g_dirty_tail;
size_t g_free_bytes, g_dirty_bytes, g_purged_bytes;

size_t pages_of(const Span* s) { return s->bytes >> kPageShift; }

Arena* arena_of(uintptr_t a) {
  for (unsigned i = 0; i < g_num_arenas; ++i)
    if (a >= g_arenas[i].base && a < g_arenas[i].end) return &g_arenas[i];
  return nullptr;
}

void bin_insert(Span* s) {
  size_t n = pages_of(s), b = n < kBins ? n : 0;
  g_bins[b].push(s);
  if (b) g_bin_bits[b / 64] |= uint64_t{1} << (b % 64);
  g_free_bytes += s->bytes;
}

void bin_remove(Span* s) {
  size_t n = pages_of(s), b = n < kBins ? n : 0;
  g_bins[b].remove(s);
  if (b && !g_bins[b].head) g_bin_bits[b / 64] &= ~(uint64_t{1} << (b % 64));
  g_free_bytes -= s->bytes;
}

void dirty_append(Span* s, uint64_t now) {
  s->dirty = 1;
  s->freed_ms = now;
  s->dirty_next = nullptr;
  s->dirty_prev = g_dirty_tail;
  if (g_dirty_tail) g_dirty_tail->dirty_next = s; else g_dirty_head = s;
  g_dirty_tail = s;
  g_dirty_bytes += s->bytes;
}

void dirty_remove(Span* s) {
  if (!s->dirty) return;
  if (s->dirty_prev) s->dirty_prev->dirty_next = s->dirty_next; else g_dirty_head = s->dirty_next;
  if (s->dirty_next) s->dirty_next->dirty_prev = s->dirty_prev; else g_dirty_tail = s->dirty_prev;
  s->dirty = 0;
  s->dirty_next = s->dirty_prev = nullptr;
  g_dirty_bytes -= s->bytes;
}

// The free run with at least n pages that fits best, or nullptr.
Span* find_run(size_t n) {
  for (size_t b = n; b < kBins; b = (b | 63) + 1) {
    uint64_t bits = g_bin_bits[b / 64] & (~uint64_t{0} << (b % 64));
    if (bits) return g_bins[(b & ~size_t{63}) + size_t(__builtin_ctzll(bits))].head;
  }
  Span* best = nullptr;
  for (Span* s = g_bins[0].head; s; s = s->next)
    if (pages_of(s) >= n && (!best || s->bytes < best->bytes)) best = s;
  return best;
}

// Takes n pages from the top of an arena, reserving a new arena if none has room.
uintptr_t grow(size_t n) {
  size_t bytes = n << kPageShift;
  for (unsigned i = g_num_arenas; i-- > 0;) {
    Arena& a = g_arenas[i];
    if (a.end - a.brk < bytes) continue;
    if (a.committed - a.brk < bytes) {
      size_t step = align_up(bytes - (a.committed - a.brk), kBreakStep);
      if (step > a.end - a.committed) step = a.end - a.committed;
      if (!os::commit(reinterpret_cast<void*>(a.committed), step)) return 0;
      a.committed += step;
    }
    uintptr_t p = a.brk;
    a.brk += bytes;
    return p;
  }
  if (g_num_arenas == kMaxArenas) return 0;
  // The first arena is small (a small program's address space stays small, and RLIMIT_AS is met early);
  // each next one doubles, up to kArenaReserve.
  size_t want = kArenaFirstReserve << (g_num_arenas < 4 ? g_num_arenas : 4);
  if (want > kArenaReserve) want = kArenaReserve;
  while (want < bytes) want <<= 1;
  for (; want >= kArenaMinReserve && want >= bytes; want >>= 1) {
    void* p = os::reserve(want, kPageSize);
    if (!p) continue;
    uintptr_t base = reinterpret_cast<uintptr_t>(p);
    if (!page_map_prepare(base, want)) { os::unmap(p, want); return 0; }
    g_arenas[g_num_arenas++] = Arena{base, base, base, base + want};
    return grow(n);
  }
  return 0;
}

// Lowers the break over a free run that ends at it, giving its pages back; the record is recycled.
void lower_break(Arena* a, Span* s) {
  dirty_remove(s);
  bin_remove(s);
  page_map_set(s->base, s->bytes, nullptr);
  a->brk = s->base;
  uintptr_t keep = align_up(a->brk, kPageSize);
  if (a->committed > keep) {
    os::decommit(reinterpret_cast<void*>(keep), a->committed - keep);
    g_purged_bytes += a->committed - keep;
    a->committed = keep;
  }
  meta_delete_span(s);
  // A run purged earlier may now be at the top: lower the break over it too.
  Span* below = a->brk > a->base ? page_map_lookup(reinterpret_cast<void*>(a->brk - 1)) : nullptr;
  if (below && below->kind == kFree && below->base + below->bytes == a->brk) lower_break(a, below);
}

size_t purge_locked(bool all) {
  uint64_t now = os::now_ms();
  size_t purged = 0;
  while (Span* s = g_dirty_head) {
    bool due = all || g_dirty_bytes > kMaxDirtyBytes || now - s->freed_ms >= g_options.purge_delay_ms;
    if (!due) break;
    purged += s->bytes;
    Arena* a = arena_of(s->base);
    if (a && s->base + s->bytes == a->brk) {
      lower_break(a, s);
    } else {
      os::purge(reinterpret_cast<void*>(s->base), s->bytes);
      g_purged_bytes += s->bytes;
      dirty_remove(s);
    }
  }
  return purged;
}

}  // namespace

Span* arena_alloc(size_t n, SpanKind kind) {
  LockGuard g(g_arena_lock);
  Span* s = meta_new_span();
  if (!s) return nullptr;
  if (Span* run = find_run(n)) {
    bin_remove(run);
    s->base = run->base;
    s->bytes = n << kPageShift;
    if (pages_of(run) == n) {
      dirty_remove(run);
      meta_delete_span(run);
    } else {
      // The remainder keeps its record and its page-map entries.
      run->base += s->bytes;
      if (run->dirty) g_dirty_bytes -= s->bytes;
      run->bytes -= s->bytes;
      bin_insert(run);
    }
  } else {
    uintptr_t p = grow(n);
    if (!p) { meta_delete_span(s); return nullptr; }
    s->base = p;
    s->bytes = n << kPageShift;
  }
  s->kind = kind;
  page_map_set(s->base, s->bytes, s);
  if (g_dirty_head) purge_locked(false);
  return s;
}

void arena_free(Span* s) {
  LockGuard g(g_arena_lock);
  s->kind = kFree;
  s->owner = nullptr;
  s->full = 0;
  // Coalesce with free neighbours; the bigger record survives, so the pages to re-point are the fewer.
  Span* left = s->base ? page_map_lookup(reinterpret_cast<void*>(s->base - 1)) : nullptr;
  Span* right = page_map_lookup(reinterpret_cast<void*>(s->base + s->bytes));
  Arena* a = arena_of(s->base);
  // Only a free run of this arena that touches s counts (the page map may hold stale entries beyond
  // the break, e.g. of a large block that was mapped there before the arena was).
  if (left && (left->kind != kFree || !a || left->base < a->base || left->base + left->bytes != s->base))
    left = nullptr;
  if (right && (right->kind != kFree || !a || right->base != s->base + s->bytes || right->base >= a->brk))
    right = nullptr;
  Span* neighbours[2] = {left, right};
  for (Span* nb : neighbours) {
    if (!nb) continue;
    dirty_remove(nb);
    bin_remove(nb);
    Span* keep = nb->bytes > s->bytes ? nb : s;
    Span* drop = keep == nb ? s : nb;
    uintptr_t base = nb->base < s->base ? nb->base : s->base;
    page_map_set(drop->base, drop->bytes, keep);
    keep->bytes = nb->bytes + s->bytes;
    keep->base = base;
    keep->kind = kFree;
    meta_delete_span(drop);
    s = keep;
  }
  bin_insert(s);
  dirty_append(s, os::now_ms());
  purge_locked(g_options.purge_delay_ms == 0);
  if (g_dirty_head) purger_request();
}

size_t arena_purge(bool all) {
  LockGuard g(g_arena_lock);
  return purge_locked(all);
}

uint64_t arena_purge_due() {
  LockGuard g(g_arena_lock);
  purge_locked(false);
  if (!g_dirty_head) return ~uint64_t{0};
  uint64_t age = os::now_ms() - g_dirty_head->freed_ms;
  return age < g_options.purge_delay_ms ? g_options.purge_delay_ms - age : 0;
}

ArenaStats arena_stats() {
  LockGuard g(g_arena_lock);
  ArenaStats st{};
  for (unsigned i = 0; i < g_num_arenas; ++i) {
    st.reserved += g_arenas[i].end - g_arenas[i].base;
    st.below_break += g_arenas[i].brk - g_arenas[i].base;
  }
  st.free_bytes = g_free_bytes;
  st.dirty_bytes = g_dirty_bytes;
  st.purged_bytes = g_purged_bytes;
  st.arenas = g_num_arenas;
  return st;
}

void arena_for_each_span(void (*fn)(const Span*, void*), void* ctx) {
  LockGuard g(g_arena_lock);
  for (unsigned i = 0; i < g_num_arenas; ++i) {
    for (uintptr_t p = g_arenas[i].base; p < g_arenas[i].brk;) {
      Span* s = page_map_lookup(reinterpret_cast<void*>(p));
      if (!s || s->bytes == 0) break;
      if (s->kind == kSmall) fn(s, ctx);
      p = s->base + s->bytes;
    }
  }
}

}  // namespace brkmalloc
