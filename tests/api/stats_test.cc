// glibc's statistics entry points: malloc_stats, malloc_info, mallinfo2, tested for glibc's meaning of
// each figure. Run like api_test.cc (see BUILD): under LD_PRELOAD=libbrkmalloc.so, statically linked with
// //preload:override, and on glibc as a baseline, where everything but suite BrkmallocStats must hold too
// (that suite checks what glibc's own fragmentation makes unreliable there: purged pages leave `arena`,
// ordblks counts each free block). The brkmalloc runs set BRKMALLOC_PURGE_DELAY_MS=60000, so freed pages
// wait for malloc_trim instead of the purger thread's timing.
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/api/proc_util.h"

namespace {

// fd 2 redirected into a memory file while a call prints; no allocation between start() and stop(), and
// no cancellation point (dup2 is not one), so it also serves a thread with a cancellation pending.
struct StderrCapture {
  int mem = -1, saved = -1;
  void start() {
    mem = memfd_create("stderr", 0);
    saved = dup(2);
    dup2(mem, 2);
  }
  void stop() { dup2(saved, 2); }
  std::string text() {
    std::string out;
    char buf[4096];
    ssize_t n;
    lseek(mem, 0, SEEK_SET);
    while ((n = read(mem, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    close(mem);
    close(saved);
    return out;
  }
};

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1) out.push_back(s.substr(start, nl - start));
  return out;
}

// "<label> = <value right-aligned in 10 columns>" as glibc's "%10u"; returns the value, or SIZE_MAX if the
// line is not in that form.
size_t glibc_field(const std::string& line, const char* label) {
  std::string prefix = std::string(label) + " = ";
  if (line.compare(0, prefix.size(), prefix) != 0) return SIZE_MAX;
  std::string num = line.substr(prefix.size());
  size_t first = num.find_first_not_of(' ');
  if (first == std::string::npos || num.size() < 10) return SIZE_MAX;
  if (num.size() > 10 && first != 0) return SIZE_MAX;  // wider than 10 columns only when the value needs it
  for (size_t i = first; i < num.size(); i++)
    if (num[i] < '0' || num[i] > '9') return SIZE_MAX;
  return strtoull(num.c_str(), nullptr, 10);
}

struct ParsedStats {
  size_t arenas = 0, system = 0, in_use = 0;      // sums of the "Arena N:" blocks
  size_t total_system = SIZE_MAX, total_in_use = SIZE_MAX, max_regions = SIZE_MAX, max_bytes = SIZE_MAX;
  size_t glibc_lines = 0;                         // lines of glibc's part, up to "max mmap bytes"
  bool ok = false;
  std::string error;
};

// Parses glibc's part of malloc_stats's output: "Arena 0:" (and further arenas), each with system and in-use
// bytes, then "Total (incl. mmap):" and its four lines, in this order, from the first line.
ParsedStats parse_glibc_part(const std::string& text) {
  ParsedStats p;
  std::vector<std::string> l = lines_of(text);
  size_t i = 0;
  auto fail = [&](const std::string& why) {
    p.error = why + " at line " + std::to_string(i + 1) + " of:\n" + text.substr(0, 600);
    return p;
  };
  while (i < l.size() && l[i] == "Arena " + std::to_string(p.arenas) + ":") {
    if (i + 2 >= l.size()) return fail("truncated arena block");
    size_t s = glibc_field(l[i + 1], "system bytes    "), u = glibc_field(l[i + 2], "in use bytes    ");
    if (s == SIZE_MAX || u == SIZE_MAX) return fail("arena lines not in glibc's format");
    p.system += s;
    p.in_use += u;
    p.arenas++;
    i += 3;
  }
  if (p.arenas == 0) return fail("no \"Arena 0:\" first");
  if (i + 4 >= l.size() || l[i] != "Total (incl. mmap):") return fail("no \"Total (incl. mmap):\" block");
  p.total_system = glibc_field(l[i + 1], "system bytes    ");
  p.total_in_use = glibc_field(l[i + 2], "in use bytes    ");
  p.max_regions = glibc_field(l[i + 3], "max mmap regions");
  p.max_bytes = glibc_field(l[i + 4], "max mmap bytes  ");
  if (p.total_system == SIZE_MAX || p.total_in_use == SIZE_MAX || p.max_regions == SIZE_MAX || p.max_bytes == SIZE_MAX)
    return fail("total lines not in glibc's format");
  p.glibc_lines = i + 5;
  p.ok = true;
  return p;
}

bool same_figures(const struct mallinfo2& a, const struct mallinfo2& b) {
  return a.arena == b.arena && a.uordblks == b.uordblks && a.hblks == b.hblks && a.hblkhd == b.hblkhd;
}

// A block with its own mapping (above any mmap threshold) kept for the whole run, so "max mmap" lines and
// hblks have something to count.
void* g_large = nullptr;

// The tests fix the mmap threshold at glibc's default: freeing a mapped block would otherwise raise it
// (in glibc and brkmalloc alike), and the next big block would live in the arena.
constexpr int kThreshold = 128 * 1024;

TEST(Stats, MallocStatsPrintsGlibcLinesFirstWithMallinfoFigures) {
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, kThreshold), 1);
  g_large = malloc(8 << 20);
  ASSERT_NE(g_large, nullptr);
  memset(g_large, 1, 4096);
  std::vector<void*> small;
  for (int i = 0; i < 1000; i++) small.push_back(malloc(200));
  struct mallinfo2 before = mallinfo2();
  StderrCapture cap;
  cap.start();
  malloc_stats();
  cap.stop();
  struct mallinfo2 after = mallinfo2();
  std::string text = cap.text();
  for (void* p : small) free(p);
  ASSERT_TRUE(same_figures(before, after)) << "the heap changed while printing";
  ParsedStats p = parse_glibc_part(text);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.system, before.arena) << "arena lines' system bytes are mallinfo2's arena";
  EXPECT_EQ(p.in_use, before.uordblks) << "arena lines' in use bytes are mallinfo2's uordblks";
  EXPECT_EQ(p.total_system, before.arena + before.hblkhd) << "the total includes the mappings";
  EXPECT_EQ(p.total_in_use, before.uordblks + before.hblkhd);
  EXPECT_GE(before.hblks, 1u);
  EXPECT_GE(p.max_regions, before.hblks);
  EXPECT_GE(p.max_bytes, before.hblkhd);
  EXPECT_GE(before.hblkhd, (size_t)8 << 20);
}

// A thread with a cancellation request pending must still get the whole report (write() is a cancellation
// point), and its cancellation state must be what it was (so the request is acted on at the next point).
struct CancelRun {
  StderrCapture cap;
  int state_after = -1;
};

void* cancelled_thread(void* arg) {
  CancelRun* r = static_cast<CancelRun*>(arg);
  r->cap.start();
  pthread_cancel(pthread_self());  // deferred: pending until the next cancellation point
  malloc_stats();
  r->cap.stop();
  int old;
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  r->state_after = old;
  pthread_testcancel();  // the pending request ends the thread here
  return nullptr;
}

TEST(Stats, MallocStatsPrintsEverythingWithCancellationPending) {
  CancelRun r;
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr, cancelled_thread, &r), 0);
  void* ret = nullptr;
  ASSERT_EQ(pthread_join(t, &ret), 0);
  std::string text = r.cap.text();
  EXPECT_EQ(ret, PTHREAD_CANCELED) << "the request stays pending and is acted on after malloc_stats";
  EXPECT_EQ(r.state_after, PTHREAD_CANCEL_ENABLE) << "malloc_stats must restore the cancellation state";
  ParsedStats p = parse_glibc_part(text);
  EXPECT_TRUE(p.ok) << p.error;
}

TEST(Stats, MallocInfoUnknownOptionReturnsEinvalAndKeepsErrno) {
  static char buf[1 << 16];
  FILE* f = fmemopen(buf, sizeof buf - 1, "w");
  ASSERT_NE(f, nullptr);
  for (int opt : {1, 2, -1}) {
    errno = 1234;
    EXPECT_EQ(malloc_info(opt, f), EINVAL) << opt;
    EXPECT_EQ(errno, 1234) << opt;
  }
  errno = 1234;
  EXPECT_EQ(malloc_info(0, f), 0);
  fclose(f);
}

TEST(Stats, Mallinfo2ArenaIsInUsePlusFree) {
  std::vector<void*> v;
  for (int i = 0; i < 3000; i++) v.push_back(malloc(16 + (i % 50) * 24));
  for (size_t i = 0; i < v.size(); i += 3) free(v[i]);
  struct mallinfo2 m = mallinfo2();
  EXPECT_EQ(m.arena, m.uordblks + m.fordblks);
  EXPECT_LE(m.keepcost, m.fordblks) << "releasable bytes are free bytes";
  EXPECT_EQ(m.usmblks, 0u) << "glibc: always 0";
  for (size_t i = 0; i < v.size(); i++)
    if (i % 3) free(v[i]);
}

TEST(Stats, Mallinfo2UordblksGrowsByWhatIsAllocated) {
  const size_t count = 20000, each = 64;
  struct mallinfo2 before = mallinfo2();
  std::vector<void*> v;
  for (size_t i = 0; i < count; i++) v.push_back(malloc(each));
  struct mallinfo2 during = mallinfo2();
  EXPECT_GE(during.uordblks, before.uordblks + count * each);
  // at most a 16-byte header per block (glibc) plus one span/page of slack
  EXPECT_LE(during.uordblks, before.uordblks + count * (each + 16) + 65536);
  EXPECT_GE(during.arena, during.uordblks);
  for (void* p : v) free(p);
  struct mallinfo2 after = mallinfo2();
  EXPECT_LE(after.uordblks + count * each, during.uordblks) << "freeing gives it all back";
}

TEST(Stats, Mallinfo2HblksAndHblkhdCountOwnMappings) {
  const size_t big = 4 << 20;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, kThreshold), 1);
  struct mallinfo2 before = mallinfo2();
  void* p = malloc(big);
  ASSERT_NE(p, nullptr);
  struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblks, before.hblks + 1);
  EXPECT_GE(during.hblkhd, before.hblkhd + big);
  EXPECT_LE(during.hblkhd, before.hblkhd + big + 2 * page);
  EXPECT_LE(during.arena, before.arena + page) << "a mapped block is not arena memory";
  free(p);
  struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(after.hblks, before.hblks);
  EXPECT_EQ(after.hblkhd, before.hblkhd);
}

// ---- brkmalloc only (the glibc baseline run filters this suite out) ----

// arena counts what is held, not what lies below a break: freed pages are held (and releasable: keepcost)
// until malloc_trim(0) returns them; then arena falls by at least what was released, and RSS with it,
// also when the pages lie below a live block.
TEST(BrkmallocStats, ArenaFallsAfterTrimByWhatWasPurged) {
  const size_t each = 1000, working_set = 24 << 20;  // below the 32 MiB dirty cap, so nothing is purged early
  const size_t count = working_set / each;
  malloc_trim(0);
  struct mallinfo2 start = mallinfo2();
  std::vector<void*> v;
  v.reserve(count);
  for (size_t i = 0; i < count; i++) {
    v.push_back(malloc(each));
    memset(v.back(), 3, each);
  }
  // A live block above the working set pins the break: the freed pages are then purged in place (they
  // stay below the break), the case where counting address space instead of held memory goes wrong.
  void* pin = malloc(20000);
  memset(pin, 4, 20000);
  struct mallinfo2 held = mallinfo2();
  for (void* p : v) free(p);
  struct mallinfo2 freed = mallinfo2();
  size_t rss_before = proc_util::rss_bytes();
  EXPECT_GE(held.arena, start.arena + working_set);
  EXPECT_GE(held.uordblks, start.uordblks + working_set);
  EXPECT_GE(freed.arena + working_set / 8, held.arena) << "freed pages are still held before the trim";
  EXPECT_GE(freed.keepcost, working_set / 4 * 3) << "and releasable";
  EXPECT_GE(freed.fordblks, freed.keepcost);
  EXPECT_LE(freed.uordblks + working_set, held.uordblks);

  malloc_trim(0);
  struct mallinfo2 trimmed = mallinfo2();
  size_t rss_after = proc_util::rss_bytes();
  EXPECT_EQ(trimmed.keepcost, 0u) << "nothing releasable is left after malloc_trim(0)";
  ASSERT_LE(trimmed.arena, freed.arena);
  size_t fall = freed.arena - trimmed.arena;
  EXPECT_GE(fall, freed.keepcost) << "arena falls by at least what was purged";
  EXPECT_LE(trimmed.arena, start.arena + working_set / 8) << "and is back near where it started";
  EXPECT_GE(rss_before - rss_after, fall / 4 * 3)
      << "the pages arena stopped counting left the RSS: arena fell " << fall << ", RSS " << (rss_before - rss_after);
  EXPECT_EQ(trimmed.arena, trimmed.uordblks + trimmed.fordblks);
  free(pin);
}

// ordblks counts free chunks: every block freed inside a span is one, and one taken again is not.
TEST(BrkmallocStats, OrdblksCountsFreeBlocks) {
  const size_t count = 8192, each = 272;
  std::vector<void*> v;
  for (size_t i = 0; i < count; i++) v.push_back(malloc(each));
  struct mallinfo2 held = mallinfo2();
  for (size_t i = 0; i < count; i += 2) free(v[i]);
  struct mallinfo2 half = mallinfo2();
  EXPECT_GE(half.ordblks, held.ordblks + count / 2);
  EXPECT_GE(half.fordblks, held.fordblks + count / 2 * each);
  for (size_t i = 0; i < count; i += 2) v[i] = malloc(each);
  struct mallinfo2 again = mallinfo2();
  EXPECT_LE(again.ordblks + count / 2, half.ordblks) << "blocks taken again are not free chunks";
  for (void* p : v) free(p);
}

TEST(BrkmallocStats, MallocStatsThenOwnDetails) {
  StderrCapture cap;
  cap.start();
  malloc_stats();
  cap.stop();
  std::string text = cap.text();
  ParsedStats p = parse_glibc_part(text);
  ASSERT_TRUE(p.ok) << p.error;
  std::vector<std::string> l = lines_of(text);
  ASSERT_GT(l.size(), p.glibc_lines);
  EXPECT_EQ(l[p.glibc_lines], "brkmalloc statistics") << "brkmalloc's details follow glibc's lines";
  EXPECT_EQ(p.arenas, 1u) << "one arena line block for all of brkmalloc's arenas";
}

}  // namespace
