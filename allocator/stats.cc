// Statistics gathering and reports (see stats.h).
#include "allocator/stats.h"

#include <string.h>

#include "allocator/arena.h"
#include "allocator/heap.h"
#include "allocator/large.h"
#include "allocator/meta.h"
#include "allocator/os.h"
#include "allocator/report.h"

namespace brkmalloc {

namespace {

void add_span(const Span* s, void* ctx) {
  ClassStats* pc = static_cast<ClassStats*>(ctx);
  ClassStats& c = pc[s->cls];
  c.spans++;
  // Read without the owner's cooperation: a statistic, exact when the program is quiet.
  c.blocks_used += __atomic_load_n(&s->used, __ATOMIC_RELAXED) - s->rfreed;
  c.blocks_capacity += kClasses.info[s->cls].capacity;
}

}  // namespace

void stats_collect(brk_stats* out, ClassStats* per_class) {
  ClassStats local[kNumClasses];
  ClassStats* pc = per_class ? per_class : local;
  memset(pc, 0, sizeof(ClassStats) * kNumClasses);
  arena_for_each_span(add_span, pc);
  brk_stats st{};
  for (unsigned c = 0; c < kNumClasses; ++c) st.allocated += pc[c].blocks_used * class_size(c);
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
  *out = st;
}

void stats_print(int fd) {
  brk_stats st;
  ClassStats pc[kNumClasses];
  stats_collect(&st, pc);
  char buf[4096];
  Writer w{buf, sizeof buf};
  w.str("brkmalloc statistics\n");
  w.str("  allocated      ").dec(st.allocated).str(" bytes (large: ").dec(st.large_allocated).str(" in ")
      .dec(st.large_count).str(" mappings)\n");
  w.str("  mapped         ").dec(st.mapped).str(" bytes\n");
  w.str("  resident       ").dec(st.resident).str(" bytes\n");
  w.str("  arena break    ").dec(st.arena_break).str(" of ").dec(st.arena_reserved).str(" reserved\n");
  w.str("  dirty          ").dec(st.dirty).str(" bytes; purged so far ").dec(st.purged).str("\n");
  w.str("  thread heaps   ").dec(st.thread_heaps).str("\n");
  w.str("  class     size   spans    used / capacity\n");
  w.flush(fd);
  for (unsigned c = 0; c < kNumClasses; ++c) {
    if (!pc[c].spans) continue;
    w.str("  ").dec(c).str("\t").dec(class_size(c)).str("\t").dec(pc[c].spans).str("\t").dec(pc[c].blocks_used)
        .str(" / ").dec(pc[c].blocks_capacity).str("\n");
    w.flush(fd);
  }
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
    w.str("<size from=\"").dec(c ? class_size(c - 1) + 1 : 1).str("\" to=\"").dec(class_size(c)).str("\" total=\"")
        .dec(pc[c].blocks_used * class_size(c)).str("\" count=\"").dec(pc[c].blocks_used).str("\"/>\n");
  }
  w.str("</sizes>\n</heap>\n");
  w.str("<total type=\"allocated\" size=\"").dec(st.allocated).str("\"/>\n");
  w.str("<total type=\"mmap\" count=\"").dec(st.large_count).str("\" size=\"").dec(st.large_allocated).str("\"/>\n");
  w.str("<system type=\"current\" size=\"").dec(st.mapped).str("\"/>\n");
  w.str("<system type=\"resident\" size=\"").dec(st.resident).str("\"/>\n");
  w.str("<aspace type=\"reserved\" size=\"").dec(st.arena_reserved).str("\"/>\n");
  w.str("</malloc>\n");
  buf[w.len] = 0;
  return fputs(buf, f) < 0 ? -1 : 0;
}

}  // namespace brkmalloc
