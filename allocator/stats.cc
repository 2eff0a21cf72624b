// Statistics gathering and reports (see stats.h).
#include "allocator/stats.h"

#include <pthread.h>
#include <string.h>

#include "allocator/arena.h"
#include "allocator/heap.h"
#include "allocator/large.h"
#include "allocator/meta.h"
#include "allocator/os.h"
#include "allocator/report.h"

namespace brkmalloc {

namespace {

SpanState state_of(const Span* s) {
  const Heap* h = s->owner;
  unsigned cls = s->cls;
  if (__atomic_load_n(&h->current[cls], __ATOMIC_RELAXED) == s)
    return kStateCurrent;
  return __atomic_load_n(&s->full, __ATOMIC_RELAXED) ? kStateFull : kStateAvail;
}

void add_span(const Span* s, void* ctx) {
  ClassStats* pc = static_cast<ClassStats*>(ctx);
  ClassStats& c = pc[s->cls];
  c.spans++;
  c.bytes += s->bytes;
  // Read without the owner's cooperation: a statistic, exact when the program is quiet.
  size_t live = __atomic_load_n(&s->used, __ATOMIC_RELAXED) - __atomic_load_n(&s->rfreed, __ATOMIC_RELAXED);
  size_t cap = kClasses.info[s->cls].capacity;
  c.blocks_used += live;
  c.blocks_capacity += cap;
  SpanState st = state_of(s);
  c.state_spans[st]++;
  c.state_free[st] += cap - live;
}

void add_cached(const Heap* h, void* ctx) {
  ClassStats* pc = static_cast<ClassStats*>(ctx);
  if (!h->foreign) return;
  for (unsigned c = 0; c < kNumClasses; ++c)
    pc[c].cached += uint32_t(0u - __atomic_load_n(&h->foreign[c].used, __ATOMIC_RELAXED));
}

// Peaks of the own-mapping counters as seen by statistics calls (large.cc keeps no high-water mark), so
// malloc_stats's "max mmap" lines never fall below the current figures.
size_t g_max_mappings, g_max_mapping_bytes;

void raise_to(size_t* peak, size_t v) {
  size_t cur = __atomic_load_n(peak, __ATOMIC_RELAXED);
  while (v > cur && !__atomic_compare_exchange_n(peak, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

}  // namespace

void stats_collect(brk_stats* out, ClassStats* per_class) {
  ClassStats local[kNumClasses];
  ClassStats* pc = per_class ? per_class : local;
  memset(pc, 0, sizeof(ClassStats) * kNumClasses);
  arena_for_each_span(add_span, pc);
  heap_for_each(add_cached, pc);
  brk_stats st{};
  size_t span_bytes = 0;
  for (unsigned c = 0; c < kNumClasses; ++c) {
    st.allocated += pc[c].blocks_used * class_size(c);
    span_bytes += pc[c].bytes;
    st.free_blocks += pc[c].blocks_capacity - pc[c].blocks_used;
  }
  LargeStats ls = large_stats();
  ArenaStats as = arena_stats();
  st.large_allocated = ls.bytes;
  st.allocated += ls.bytes;
  st.large_count = ls.count;
  st.arena_reserved = as.reserved;
  st.arena_break = as.below_break;
  st.dirty = as.dirty_bytes;
  st.purged = as.purged_bytes;
  st.mapped = (as.below_break - (as.free_bytes - as.dirty_bytes)) + ls.mapped_bytes + meta_mapped_bytes();
  st.resident = os::resident_bytes();
  st.thread_heaps = heap_count();
  // What glibc's mallinfo2 calls arena: memory below the threshold that we hold, i.e. small spans, large
  // blocks living in arena runs, and free runs whose pages are not purged yet (resident, they cost the
  // program). Purged or never-used runs are not held, though they lie below a break.
  st.own_mappings = ls.mapped_count;
  st.own_mapping_bytes = ls.mapped_bytes;
  size_t in_arena_large = ls.bytes - ls.mapped_bytes;
  st.arena_held = span_bytes + in_arena_large + as.dirty_bytes;
  st.arena_in_use = st.allocated - ls.mapped_bytes;
  st.arena_free = st.arena_held - st.arena_in_use;
  st.free_blocks += as.free_runs;
  raise_to(&g_max_mappings, st.own_mappings);
  raise_to(&g_max_mapping_bytes, st.own_mapping_bytes);
  st.max_own_mappings = __atomic_load_n(&g_max_mappings, __ATOMIC_RELAXED);
  st.max_own_mapping_bytes = __atomic_load_n(&g_max_mapping_bytes, __ATOMIC_RELAXED);
  *out = st;
}

void stats_print(int fd) {
  // write() is a cancellation point: a thread with a cancellation request pending would otherwise die
  // on the first line. glibc's malloc_stats likewise prints with cancellation off.
  int cancel_state;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
  brk_stats st;
  ClassStats pc[kNumClasses];
  stats_collect(&st, pc);
  char buf[4096];
  Writer w{buf, sizeof buf};
  // glibc's lines first, in glibc 2.36's format (programs parse them), with one arena for all of ours:
  // its figures are mallinfo2's arena and uordblks, and the totals add the own mappings. (glibc casts
  // these to unsigned int; we print the whole value.)
  w.str("Arena 0:\n");
  w.str("system bytes     = ").dec(st.arena_held, 10).str("\n");
  w.str("in use bytes     = ").dec(st.arena_in_use, 10).str("\n");
  w.str("Total (incl. mmap):\n");
  w.str("system bytes     = ").dec(st.arena_held + st.own_mapping_bytes, 10).str("\n");
  w.str("in use bytes     = ").dec(st.arena_in_use + st.own_mapping_bytes, 10).str("\n");
  w.str("max mmap regions = ").dec(st.max_own_mappings, 10).str("\n");
  w.str("max mmap bytes   = ").dec(st.max_own_mapping_bytes, 10).str("\n");
  w.flush(fd);
  w.str("brkmalloc statistics\n");
  w.str("  allocated      ").dec(st.allocated).str(" bytes (large: ").dec(st.large_allocated).str(" in ")
      .dec(st.large_count).str(" blocks)\n");
  w.str("  mapped         ").dec(st.mapped).str(" bytes\n");
  w.str("  resident       ").dec(st.resident).str(" bytes\n");
  w.str("  arena break    ").dec(st.arena_break).str(" of ").dec(st.arena_reserved).str(" reserved\n");
  w.str("  dirty          ").dec(st.dirty).str(" bytes; purged so far ").dec(st.purged).str("\n");
  w.str("  arena held     ").dec(st.arena_held).str(" bytes, free ").dec(st.arena_free).str(" (")
      .dec(st.free_blocks).str(" free blocks and runs)\n");
  w.str("  own mappings   ").dec(st.own_mappings).str(", ").dec(st.own_mapping_bytes).str(" bytes\n");
  w.str("  thread heaps   ").dec(st.thread_heaps).str("\n");
  // Where the free bytes inside spans are (fragmentation), per class and span state: current spans
  // (the heaps allocate from them), avail (waiting with room), full (waiting until enough is free), and
  // freed blocks that other threads keep on their foreign lists (counted live in "used").
  size_t tot[kSpanStates] = {}, tot_cached = 0;
  for (unsigned c = 0; c < kNumClasses; ++c) {
    for (unsigned k = 0; k < kSpanStates; ++k) tot[k] += pc[c].state_free[k] * class_size(c);
    tot_cached += pc[c].cached * class_size(c);
  }
  w.str("  free in spans  current ").dec(tot[kStateCurrent]).str(", avail ").dec(tot[kStateAvail]).str(", full ")
      .dec(tot[kStateFull]).str(" bytes; on threads' foreign lists ").dec(tot_cached).str(" bytes\n");
  w.str("  class     size   spans    used / capacity   free bytes: current avail full (spans c/a/f)   foreign\n");
  w.flush(fd);
  for (unsigned c = 0; c < kNumClasses; ++c) {
    if (!pc[c].spans) continue;
    size_t sz = class_size(c);
    w.str("  ").dec(c).str("\t").dec(sz).str("\t").dec(pc[c].spans).str("\t").dec(pc[c].blocks_used)
        .str(" / ").dec(pc[c].blocks_capacity).str("\t").dec(pc[c].state_free[kStateCurrent] * sz).str(" ")
        .dec(pc[c].state_free[kStateAvail] * sz).str(" ").dec(pc[c].state_free[kStateFull] * sz).str(" (")
        .dec(pc[c].state_spans[kStateCurrent]).str("/").dec(pc[c].state_spans[kStateAvail]).str("/")
        .dec(pc[c].state_spans[kStateFull]).str(")\t").dec(pc[c].cached * sz).str("\n");
    w.flush(fd);
  }
  pthread_setcancelstate(cancel_state, nullptr);
}

int stats_xml(FILE* f) {
  brk_stats st;
  ClassStats pc[kNumClasses];
  stats_collect(&st, pc);
  char buf[8192];
  Writer w{buf, sizeof buf - 1};
  w.str("<malloc version=\"brkmalloc-1\">\n<heap nr=\"0\">\n<sizes>\n");
  for (unsigned c = 0; c < kNumClasses; ++c) {
    if (!pc[c].spans) continue;
    size_t sz = class_size(c);
    w.str("<size from=\"").dec(c ? class_size(c - 1) + 1 : 1).str("\" to=\"").dec(sz).str("\" total=\"")
        .dec(pc[c].blocks_used * sz).str("\" count=\"").dec(pc[c].blocks_used).str("\" free_current=\"")
        .dec(pc[c].state_free[kStateCurrent] * sz).str("\" free_avail=\"").dec(pc[c].state_free[kStateAvail] * sz)
        .str("\" free_full=\"").dec(pc[c].state_free[kStateFull] * sz).str("\" foreign=\"").dec(pc[c].cached * sz)
        .str("\"/>\n");
    if (w.len > sizeof buf / 2) {  // a class line at a time, so that the buffer never fills
      buf[w.len] = 0;
      if (fputs(buf, f) < 0) return -1;
      w.len = 0;
    }
  }
  w.str("</sizes>\n</heap>\n");
  w.str("<total type=\"allocated\" size=\"").dec(st.allocated).str("\"/>\n");
  w.str("<total type=\"mmap\" count=\"").dec(st.own_mappings).str("\" size=\"").dec(st.own_mapping_bytes).str("\"/>\n");
  w.str("<system type=\"current\" size=\"").dec(st.mapped).str("\"/>\n");
  w.str("<system type=\"resident\" size=\"").dec(st.resident).str("\"/>\n");
  w.str("<aspace type=\"reserved\" size=\"").dec(st.arena_reserved).str("\"/>\n");
  w.str("</malloc>\n");
  buf[w.len] = 0;
  return fputs(buf, f) < 0 ? -1 : 0;
}

}  // namespace brkmalloc
