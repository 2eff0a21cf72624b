// Arenas, free-run bins, coalescing and purging (see arena.h).
#include "allocator/arena.h"

#include "allocator/config.h"
#include "allocator/decay.h"
#include "allocator/lock.h"
#include "allocator/meta.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/page_map.h"
#include "allocator/purger.h"
#include "allocator/size_classes.h"

namespace brkmalloc {

Lock g_arena_lock;

namespace {

struct Arena {
  uintptr_t base, brk, committed, end;
};

constexpr unsigned kMaxArenas = 512;
constexpr size_t kExactBins = 256;  // runs of 1..255 pages, one length per bin
constexpr size_t kBins = kExactBins + 4 * (kAddressBits - kPageShift - 8 + 1);
constexpr size_t kBinWords = (kBins + 63) / 64;
constexpr size_t kBinScan = 16;  // runs of a mixed-length bin looked at for the best fit

Arena g_arenas[kMaxArenas];
unsigned g_num_arenas;
// Two sets of bins: [1] dirty runs (resident, reused first), [0] clean ones.
SpanList g_bins[2][kBins];
uint64_t g_bin_bits[2][kBinWords];  // which bins are non-empty
Span* g_dirty_head;  // purge queue, oldest first
Span* g_dirty_tail;
size_t g_free_bytes, g_dirty_bytes, g_purged_bytes, g_madvised_bytes, g_free_runs;
size_t g_live_bytes;  // handed out and not given back (what the dirty cap's peak follows, decay.h)

size_t pages_of(const Span* s) { return s->bytes >> kPageShift; }

// Runs of 256 pages and more: four bins per doubling (lengths in a bin differ by at most 25 %).
size_t bin_of(size_t pages) {
  if (pages < kExactBins) return pages;
  unsigned b = 63u - unsigned(__builtin_clzll(pages));
  return kExactBins + (b - 8) * 4 + ((pages >> (b - 2)) & 3);
}

void live_add(size_t bytes, uint64_t now) {
  g_live_bytes += bytes;
  decay_note_live(g_live_bytes, now);
}
void live_sub(size_t bytes, uint64_t now) {
  g_live_bytes -= bytes;
  decay_note_live(g_live_bytes, now);
}

Arena* arena_of(uintptr_t a) {
  for (unsigned i = 0; i < g_num_arenas; ++i)
    if (a >= g_arenas[i].base && a < g_arenas[i].end) return &g_arenas[i];
  return nullptr;
}

// The leaves of an arena are prepared when it is reserved, so these cannot fail.
void map_ends(const Span* s, Span* to) {
  page_map_set(s->base, kPageSize, to);
  if (s->bytes > kPageSize) page_map_set(s->base + s->bytes - kPageSize, kPageSize, to);
}

void bin_insert(Span* s) {
  size_t b = bin_of(pages_of(s));
  uint8_t d = s->dirty;
  g_bins[d][b].push(s);
  g_bin_bits[d][b / 64] |= uint64_t{1} << (b % 64);
  g_free_bytes += s->bytes;
  ++g_free_runs;
}

void bin_remove(Span* s) {
  size_t b = bin_of(pages_of(s));
  uint8_t d = s->dirty;
  g_bins[d][b].remove(s);
  if (!g_bins[d][b].head) g_bin_bits[d][b / 64] &= ~(uint64_t{1} << (b % 64));
  g_free_bytes -= s->bytes;
  --g_free_runs;
}

void dirty_append(Span* s, uint64_t now) {
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
  s->dirty_next = s->dirty_prev = nullptr;
  g_dirty_bytes -= s->bytes;
}

// First non-empty bin of set d at or above `from`, or kBins.
size_t next_bin(uint8_t d, size_t from) {
  for (size_t w = from / 64; w < kBinWords; ++w) {
    uint64_t bits = g_bin_bits[d][w];
    if (w == from / 64) bits &= ~uint64_t{0} << (from % 64);
    if (bits) return w * 64 + size_t(__builtin_ctzll(bits));
  }
  return kBins;
}

// The shortest of the first kBinScan runs of bin b (set d) with at least n pages, or nullptr.
Span* best_in_bin(uint8_t d, size_t b, size_t n) {
  Span* best = nullptr;
  size_t k = 0;
  for (Span* s = g_bins[d][b].head; s && k < kBinScan; s = s->next, ++k)
    if (pages_of(s) >= n && (!best || s->bytes < best->bytes)) best = s;
  return best;
}

// A free run of set d (1 dirty, 0 clean) of at least n pages, close to the best fit, or nullptr: an exact
// bin's head, else the shortest fitting run among the first few of n's bin, else of the next non-empty one.
Span* find_run(uint8_t d, size_t n) {
  size_t b = bin_of(n);
  if (b < kExactBins) {
    if (g_bins[d][b].head) return g_bins[d][b].head;
  } else {
    if (Span* best = best_in_bin(d, b, n)) return best;
  }
  b = next_bin(d, b + 1);  // every run of a higher bin is longer than n
  if (b >= kBins) return nullptr;
  return b < kExactBins ? g_bins[d][b].head : best_in_bin(d, b, n);
}

// The free run in state `dirty` that ends at `base` / starts at `end`, within arena a.
Span* free_left(const Arena* a, uintptr_t base, uint8_t dirty) {
  if (base <= a->base) return nullptr;
  Span* l = page_map_lookup(reinterpret_cast<void*>(base - 1));
  return l && l->kind == kFree && l->dirty == dirty && l->base >= a->base && l->base + l->bytes == base ? l : nullptr;
}
Span* free_right(const Arena* a, uintptr_t end, uint8_t dirty) {
  if (end >= a->brk) return nullptr;
  Span* r = page_map_lookup(reinterpret_cast<void*>(end));
  return r && r->kind == kFree && r->dirty == dirty && r->base == end ? r : nullptr;
}

// A record that held a span (or none) now describes free pages.
Span* become_free(Span* r) {
  r->kind = kFree;
  r->owner = nullptr;
  r->full = 0;
  r->in_arena = 0;
  return r;
}

// Makes free record r (base, bytes and dirty set) a free run: merged with its neighbours in the same state,
// binned, queued for purging if dirty. Returns the record that holds the merged run.
Span* insert_free(const Arena* a, Span* r, uint64_t now) {
  Span* neighbours[2] = {free_left(a, r->base, r->dirty), free_right(a, r->base + r->bytes, r->dirty)};
  for (Span* nb : neighbours) {
    if (!nb) continue;
    dirty_remove(nb);
    bin_remove(nb);
    Span* keep = nb->bytes > r->bytes ? nb : r;
    Span* drop = keep == nb ? r : nb;
    map_ends(drop, keep);
    keep->base = nb->base < r->base ? nb->base : r->base;
    keep->bytes = nb->bytes + r->bytes;
    meta_delete_span(drop);
    r = keep;
  }
  map_ends(r, r);
  bin_insert(r);
  if (r->dirty) dirty_append(r, now);
  return r;
}

// Moves arena a's break up by `bytes`, committing memory in kBreakStep steps.
bool extend_break(Arena* a, size_t bytes) {
  if (a->end - a->brk < bytes) return false;
  if (a->committed - a->brk < bytes) {
    // glibc's top pad: commit that much more than asked (then whole steps).
    size_t step = align_up(bytes - (a->committed - a->brk) + g_options.top_pad, kBreakStep);
    if (step > a->end - a->committed) step = a->end - a->committed;
    if (!os::commit(reinterpret_cast<void*>(a->committed), step)) return false;
    // Arenas and steps are 2 MiB-aligned: each step is whole huge pages, which purges of single runs
    // split (the kernel recombines them later); off unless asked for (glibc.malloc.hugetlb=1).
    if (g_options.hugepages) os::advise_hugepages(reinterpret_cast<void*>(a->committed), step);
    a->committed += step;
  }
  a->brk += bytes;
  return true;
}

bool reserve_arena(size_t bytes) {
  if (g_num_arenas == kMaxArenas) return false;
  // The first arena is small (a small program's address space stays small, and RLIMIT_AS is met early);
  // each next one doubles, up to kArenaReserve.
  size_t want = kArenaFirstReserve << (g_num_arenas < 4 ? g_num_arenas : 4);
  if (want > kArenaReserve) want = kArenaReserve;
  while (want < bytes) want <<= 1;
  for (; want >= kArenaMinReserve && want >= bytes; want >>= 1) {
    void* p = os::reserve(want, kBreakStep);
    if (!p) continue;
    uintptr_t base = reinterpret_cast<uintptr_t>(p);
    if (!page_map_prepare(base, want)) {
      os::unmap(p, want);
      return false;
    }
    g_arenas[g_num_arenas++] = Arena{base, base, base, base + want};
    return true;
  }
  return false;
}

// n fresh pages aligned to `align` bytes from the top of an arena (a new one if none has room). The gap
// below an aligned start becomes a clean free run, held by *gap (consumed when used).
uintptr_t grow(size_t n, size_t align, Span** gap, uint64_t now) {
  size_t bytes = n << kPageShift;
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (unsigned i = g_num_arenas; i-- > 0;) {
      Arena* a = &g_arenas[i];
      uintptr_t start = align_up(a->brk, align);
      size_t lead = start - a->brk;
      if (a->end - a->brk < lead + bytes) continue;
      if (lead && !*gap) continue;
      uintptr_t old = a->brk;
      if (!extend_break(a, lead + bytes)) return 0;
      if (lead) {
        Span* g = *gap;
        *gap = nullptr;
        g->base = old;
        g->bytes = lead;
        g->dirty = 0;
        insert_free(a, become_free(g), now);
      }
      return start;
    }
    if (attempt == 0 && !reserve_arena(bytes + (align > kBreakStep ? align : 0))) return 0;
  }
  return 0;
}

// Lowers the break over the free runs that end at it, giving their pages back; records are recycled.
void lower_break(Arena* a, Span* s) {
  while (s) {
    dirty_remove(s);
    bin_remove(s);
    map_ends(s, nullptr);
    a->brk = s->base;
    if (a->committed > a->brk) {
      os::decommit(reinterpret_cast<void*>(a->brk), a->committed - a->brk);
      g_purged_bytes += a->committed - a->brk;
      a->committed = a->brk;
    }
    meta_delete_span(s);
    // A run purged earlier (clean) may now be at the top.
    Span* below = a->brk > a->base ? page_map_lookup(reinterpret_cast<void*>(a->brk - 1)) : nullptr;
    s = below && below->kind == kFree && below->base >= a->base && below->base + below->bytes == a->brk ? below
                                                                                                     : nullptr;
  }
}

size_t purge_locked(bool all) {
  uint64_t now = os::now_ms();
  size_t purged = 0, cap = decay_cap(now);
  while (Span* s = g_dirty_head) {
    bool due = all || g_dirty_bytes > cap || decay_due(s->freed_ms, now);
    if (!due) break;
    purged += s->bytes;
    Arena* a = arena_of(s->base);
    if (s->base + s->bytes == a->brk) {
      lower_break(a, s);
      continue;
    }
    os::purge(reinterpret_cast<void*>(s->base), s->bytes);
    g_purged_bytes += s->bytes;
    g_madvised_bytes += s->bytes;
    dirty_remove(s);
    bin_remove(s);
    s->dirty = 0;
    Span* run = insert_free(a, s, now);  // joins its clean neighbours
    if (run->base + run->bytes == a->brk) lower_break(a, run);
  }
  return purged;
}

// Takes [start, start + n pages) out of free run `run` for span s; the pieces before and after stay free
// (the one before keeps the run's record and its place in the purge queue; `spare` holds the one after
// when both exist).
void take_from(Span* run, uintptr_t start, size_t n, Span* s, Span** spare, uint64_t now) {
  uintptr_t end = start + (n << kPageShift), run_end = run->base + run->bytes;
  size_t lead = start - run->base, tail = run_end - end;
  uint8_t dirty = run->dirty;
  s->base = start;
  s->bytes = n << kPageShift;
  s->dirty = dirty;
  bin_remove(run);
  if (!lead && !tail) {
    dirty_remove(run);
    meta_delete_span(run);
    return;
  }
  if (dirty) g_dirty_bytes -= run->bytes - (lead ? lead : tail);
  if (lead) {
    run->bytes = lead;
  } else {
    run->base = end;
    run->bytes = tail;
  }
  map_ends(run, run);
  bin_insert(run);
  if (lead && tail) {
    Span* t = *spare;
    *spare = nullptr;
    t->base = end;
    t->bytes = tail;
    t->dirty = dirty;
    t->kind = kFree;
    map_ends(t, t);
    bin_insert(t);
    if (dirty) dirty_append(t, now);
  }
}

// The dirty free run at the top of an arena that has room above it for n pages from the run's start (the
// longest such run), or nullptr; *in is its arena.
Span* top_run(size_t n, Arena** in) {
  Span* best = nullptr;
  for (unsigned i = 0; i < g_num_arenas; ++i) {
    Arena* a = &g_arenas[i];
    if (a->brk == a->base) continue;
    Span* t = page_map_lookup(reinterpret_cast<void*>(a->brk - 1));
    if (!t || t->kind != kFree || !t->dirty || t->base < a->base || t->base + t->bytes != a->brk) continue;
    if (a->end - t->base < (n << kPageShift) || (best && t->bytes <= best->bytes)) continue;
    best = t;
    *in = a;
  }
  return best;
}

// Span s takes the dirty run t at the top of arena a, and the break moves up for the rest of n pages:
// only those are fresh (faulted in on first touch). False (nothing changed) if the break cannot move.
bool take_top(Arena* a, Span* t, size_t n, Span* s) {
  size_t bytes = n << kPageShift;
  if (bytes > t->bytes && !extend_break(a, bytes - t->bytes)) return false;
  dirty_remove(t);
  bin_remove(t);
  s->base = t->base;
  s->bytes = bytes;
  s->dirty = 1;
  meta_delete_span(t);
  return true;
}

}  // namespace

Span* arena_alloc(size_t n, SpanKind kind, size_t align_pages, bool resident_only) {
  LockGuard g(g_arena_lock);
  Span* s = meta_new_span();
  if (!s) return nullptr;
  // An aligned span may split a run in three, or leave a gap below the break: one more record.
  Span* spare = align_pages > 1 ? meta_new_span() : nullptr;
  if (align_pages > 1 && !spare) {
    meta_delete_span(s);
    return nullptr;
  }
  size_t align = align_pages << kPageShift;
  uint64_t now = os::now_ms();
  // Resident pages first: a dirty run (best fit), else the dirty run at an arena's top and the break moved
  // for the rest; then a clean run (faulted in again), else fresh pages from a break.
  Span* run = find_run(1, n + align_pages - 1);
  Arena* top_arena = nullptr;
  Span* top = run || align_pages > 1 ? nullptr : top_run(n, &top_arena);
  if (top && top->bytes >= (n << kPageShift)) {
    run = top;  // (longer than the runs find_run looked at)
    top = nullptr;
  }
  if (top && !take_top(top_arena, top, n, s)) top = nullptr;
  if (!run && !top && resident_only) {
    meta_delete_span(s);
    if (spare) meta_delete_span(spare);
    return nullptr;
  }
  if (!run && !top) run = find_run(0, n + align_pages - 1);
  if (run) {
    take_from(run, align_up(run->base, align), n, s, &spare, now);
  } else if (!top) {
    uintptr_t p = grow(n, align, &spare, now);
    if (!p) {
      meta_delete_span(s);
      if (spare) meta_delete_span(spare);
      return nullptr;
    }
    s->base = p;
    s->bytes = n << kPageShift;
    s->dirty = 0;
  }
  if (spare) meta_delete_span(spare);
  s->kind = kind;
  map_ends(s, s);
  live_add(s->bytes, now);
  if (g_dirty_head) purge_locked(false);
  return s;
}

void arena_free(Span* s) {
  LockGuard g(g_arena_lock);
  // A span of many blocks has every page registered; they are pointed at the free run, so that a later
  // free of one of its blocks reads as a double free.
  bool every_page = s->kind == kSmall && kClasses.info[s->cls].capacity > 1;
  uintptr_t base = s->base;
  size_t bytes = s->bytes;
  uint64_t now = os::now_ms();
  live_sub(bytes, now);
  s->dirty = 1;
  Span* run = insert_free(arena_of(base), become_free(s), now);
  if (every_page) page_map_set(base, bytes, run);
  purge_locked(g_options.purge_delay_ms == 0);
  if (g_dirty_head) purger_request();
}

bool arena_resize(Span* s, size_t pages) {
  LockGuard g(g_arena_lock);
  Arena* a = arena_of(s->base);
  size_t bytes = pages << kPageShift;
  if (bytes < s->bytes) {
    Span* t = meta_new_span();
    if (!t) return false;
    t->base = s->base + bytes;
    t->bytes = s->bytes - bytes;
    t->dirty = 1;
    s->bytes = bytes;
    map_ends(s, s);
    uint64_t now = os::now_ms();
    live_sub(t->bytes, now);
    insert_free(a, become_free(t), now);
    purge_locked(g_options.purge_delay_ms == 0);
    if (g_dirty_head) purger_request();
    return true;
  }
  uintptr_t end = s->base + s->bytes;
  size_t need = bytes - s->bytes;
  if (need == 0) return true;
  if (end == a->brk) {
    if (!extend_break(a, need)) return false;
  } else {
    Span* r = page_map_lookup(reinterpret_cast<void*>(end));
    if (!r || r->kind != kFree || r->base != end) return false;
    size_t from_run = need;
    if (r->bytes < need) {
      // A free run up to the break: take all of it, and the rest from the break.
      if (r->base + r->bytes != a->brk || !extend_break(a, need - r->bytes)) return false;
      from_run = r->bytes;
    }
    Span* none = nullptr;
    Span piece{};
    take_from(r, end, from_run >> kPageShift, &piece, &none, 0);
    s->dirty |= piece.dirty;
  }
  s->bytes = bytes;
  map_ends(s, s);
  live_add(need, os::now_ms());
  return true;
}

size_t arena_purge(bool all) {
  LockGuard g(g_arena_lock);
  return purge_locked(all);
}

uint64_t arena_purge_due() {
  LockGuard g(g_arena_lock);
  purge_locked(false);
  if (!g_dirty_head) return ~uint64_t{0};
  return decay_wait(g_dirty_head->freed_ms, os::now_ms());
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
  st.madvised_bytes = g_madvised_bytes;
  st.free_runs = g_free_runs;
  st.live_bytes = g_live_bytes;
  st.dirty_cap = decay_cap(os::now_ms());
  st.arenas = g_num_arenas;
  return st;
}

void arena_for_each_span(void (*fn)(const Span*, void*), void* ctx) {
  LockGuard g(g_arena_lock);
  for (unsigned i = 0; i < g_num_arenas; ++i) {
    for (uintptr_t p = g_arenas[i].base; p < g_arenas[i].brk;) {
      Span* s = page_map_lookup(reinterpret_cast<void*>(p));
      if (!s || s->bytes == 0 || s->base != p) break;
      if (s->kind == kSmall) fn(s, ctx);
      p = s->base + s->bytes;
    }
  }
}

}  // namespace brkmalloc
