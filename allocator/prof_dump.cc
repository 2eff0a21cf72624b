// Profiles and the leak report (see prof_dump.h). The leak report's frames are named by prof_symbols.h
// and always carry object+offset too (`addr2line -f -e object offset` resolves them).
#include "allocator/prof_dump.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/prof_symbols.h"
#include "allocator/prof_table.h"
#include "allocator/report.h"

namespace brkmalloc {

namespace {

constexpr size_t kBuf = 64 << 10;
char* g_buf;          // kBuf bytes, under g_prof_lock
int g_leak_fd = -1;   // BRKMALLOC_LEAKS=1: a copy of stderr taken at start-up (programs close theirs)

// A Writer over g_buf that flushes to fd whenever a line may not fit.
struct Out {
  Writer w;
  int fd;
  bool ok = true;
  explicit Out(int f) : w{g_buf, kBuf}, fd(f) {}
  Writer& line() {
    if (w.len > kBuf - 4096) flush();
    return w;
  }
  void flush() {
    size_t off = 0;
    while (off < w.len) {
      ssize_t n = write(fd, g_buf + off, w.len - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false;
        break;
      }
      off += size_t(n);
    }
    w.len = 0;
  }
};

void dec_double(Writer& w, double v) { w.dec(v > 0 ? size_t(v + 0.5) : 0); }

void copy_maps(Out& o) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  o.flush();
  for (;;) {
    ssize_t n = read(fd, g_buf + o.w.len, kBuf - o.w.len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    o.w.len += size_t(n);
    if (o.w.len > kBuf / 2) o.flush();
  }
  close(fd);
}

// Shell sort of stack numbers, largest estimated live bytes first (libc's qsort may allocate).
void sort_by_estimate(uint32_t* v, uint32_t n) {
  static const uint32_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
  for (uint32_t gap : gaps) {
    for (uint32_t i = gap; i < n; ++i) {
      uint32_t x = v[i];
      double key = prof_stack_at(x)->live_est;
      uint32_t j = i;
      for (; j >= gap && prof_stack_at(v[j - gap])->live_est < key; j -= gap) v[j] = v[j - gap];
      v[j] = x;
    }
  }
}

void frame_text(Writer& w, uintptr_t a) {
  w.str("0x").hex(a);
  ProfSymbol sym;
  prof_symbolize(a, &sym);
  if (sym.name[0]) w.str(" ").str(sym.name).str("+0x").hex(sym.offset);
  if (sym.file) w.str(" (").str(sym.file).str("+0x").hex(sym.file_offset).str(")");
}

}  // namespace

void prof_dump_init() {
  g_buf = static_cast<char*>(os::map(kBuf, kPageSize));
  if (!strcmp(g_options.leaks, "1")) {
    int saved = errno;
    g_leak_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (g_leak_fd < 0) g_leak_fd = 2;
    errno = saved;
  }
}

bool prof_numbered_path(char* out, size_t cap) {
  Writer w{out, cap - 1};
  unsigned seq = ++g_prof.seq;
  w.str(g_options.profile_prefix).str(".").dec(size_t(getpid())).str(".");
  w.dec(seq / 1000 % 10).dec(seq / 100 % 10).dec(seq / 10 % 10).dec(seq % 10);  // %04u, as gperftools
  if (seq >= 10000) { w.len -= 4; w.dec(seq); }
  w.str(".heap");
  if (w.len >= cap - 1) return false;
  out[w.len] = 0;
  return true;
}

bool prof_write_profile_file(const char* path) {
  if (!g_buf) {
    errno = ENOMEM;
    return false;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  uint64_t live_n = 0, live_b = 0, total_n = 0, total_b = 0;
  uint32_t n = prof_stack_count();
  for (uint32_t i = 0; i < n; ++i) {
    const ProfStack* s = prof_stack_at(i);
    live_n += s->live_n;
    live_b += s->live_bytes;
    total_n += s->total_n;
    total_b += s->total_bytes;
  }
  Out o(fd);
  o.line().str("heap profile: ").dec(live_n, 6).str(": ").dec(live_b, 8).str(" [").dec(total_n, 6).str(": ")
      .dec(total_b, 8).str("] @ heap_v2/").dec(g_prof.rate).str("\n");
  for (uint32_t i = 0; i < n; ++i) {
    const ProfStack* s = prof_stack_at(i);
    Writer& w = o.line();
    w.dec(s->live_n, 6).str(": ").dec(s->live_bytes, 8).str(" [").dec(s->total_n, 6).str(": ").dec(s->total_bytes, 8).str("] @");
    for (unsigned f = 0; f < s->depth; ++f) w.str(" 0x").hex(s->frames[f]);
    w.str("\n");
  }
  o.line().str("\nMAPPED_LIBRARIES:\n");
  copy_maps(o);
  o.flush();
  int saved = errno;
  close(fd);
  errno = saved;
  if (!o.ok) {
    errno = errno ? errno : EIO;
    return false;
  }
  return true;
}

void prof_write_leaks() {
  if (!g_buf) return;
  int fd = g_leak_fd;
  bool own = false;
  if (strcmp(g_options.leaks, "1") != 0) {
    fd = open(g_options.leaks, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    own = true;
  }
  uint32_t n = prof_stack_count(), live = 0;
  size_t bytes = size_t(n) * sizeof(uint32_t);
  auto* order = n ? static_cast<uint32_t*>(os::map(bytes, kPageSize)) : nullptr;
  double total = 0;
  uint64_t sampled = 0;
  if (order) {
    for (uint32_t i = 0; i < n; ++i) {
      const ProfStack* s = prof_stack_at(i);
      if (!s->live_n) continue;
      order[live++] = i;
      total += s->live_est;
      sampled += s->live_n;
    }
    sort_by_estimate(order, live);
  }
  Out o(fd);
  o.line().str("brkmalloc: leak report of process ").dec(size_t(getpid())).str(": ").dec(live)
      .str(" allocation sites still hold about ").dec(size_t(total + 0.5)).str(" bytes (").dec(sampled)
      .str(" sampled blocks; 1 sample per ").dec(g_prof.rate).str(" bytes on average)\n");
  for (uint32_t k = 0; k < live; ++k) {
    const ProfStack* s = prof_stack_at(order[k]);
    Writer& w = o.line();
    w.str("brkmalloc: leak ").dec(k + 1).str(": about ");
    dec_double(w, s->live_est);
    w.str(" bytes in about ");
    dec_double(w, s->live_bytes ? s->live_est * double(s->live_n) / double(s->live_bytes) : 0);
    w.str(" blocks (").dec(s->live_n).str(" sampled, ").dec(s->live_bytes).str(" bytes), allocated at\n");
    for (unsigned f = 0; f < s->depth && f < 12; ++f) {
      Writer& fl = o.line();
      fl.str("    #").dec(f).str(" ");
      frame_text(fl, s->frames[f]);
      fl.str("\n");
    }
  }
  o.flush();
  if (order) os::unmap(order, bytes);
  if (own) close(fd);
}

}  // namespace brkmalloc
