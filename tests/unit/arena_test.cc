// Arenas (allocator/arena.h): runs come from the break and go back to size bins, free neighbours
// coalesce, a freed run's range is reused, the break falls when the top is purged, dirty pages stay
// resident for the purge delay and are dropped by arena_purge. This binary uses no other part of the
// allocator, so the arena state at the start of each test is known: nothing free, nothing below the break.
#include "allocator/arena.h"

#include <gtest/gtest.h>
#include <string.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "allocator/decay.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/page_map.h"
#include "tests/unit/unit_util.h"

namespace brkmalloc {
namespace {

constexpr uint64_t kHour = 3600000;

class Arena : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_delay_ = g_options.purge_delay_ms;
    g_options.purge_delay_ms = kHour;  // nothing is purged unless a test asks
    ArenaStats st = arena_stats();
    ASSERT_EQ(st.free_bytes, 0u) << "a previous test left free runs";
    ASSERT_EQ(st.below_break, 0u) << "a previous test left runs in use";
  }
  void TearDown() override {
    // Every test frees what it took; a full purge then lowers every break to the arena's base.
    arena_purge(true);
    ArenaStats st = arena_stats();
    EXPECT_EQ(st.free_bytes, 0u);
    EXPECT_EQ(st.dirty_bytes, 0u);
    EXPECT_EQ(st.below_break, 0u);
    g_options.purge_delay_ms = saved_delay_;
  }
  // A run marked in use (kind kLarge: not free, and skipped by the small-span statistics walk).
  static Span* take(size_t pages) {
    Span* s = arena_alloc(pages, kLarge);
    if (s) {
      EXPECT_EQ(s->bytes, pages * kPageSize);
      EXPECT_EQ(s->base % kPageSize, 0u);
      s->kind = kLarge;
    }
    return s;
  }
  static void* at(uintptr_t a) { return reinterpret_cast<void*>(a); }
  static void touch(const Span* s) { memset(at(s->base), 0xab, s->bytes); }

  uint64_t saved_delay_ = 0;
};

TEST_F(Arena, RunsAreRegisteredInThePageMap) {
  Span* s = take(5);
  ASSERT_NE(s, nullptr);
  // The first and last page: what a free of the span's start and its neighbours' coalescing look up.
  EXPECT_EQ(page_map_lookup(at(s->base)), s);
  EXPECT_EQ(page_map_lookup(at(s->base + s->bytes - 1)), s);
  touch(s);  // committed: readable and writable
  arena_free(s);
}

TEST_F(Arena, FreeNeighboursCoalesceAndTheRangeIsReused) {
  Span* a = take(4);
  Span* b = take(4);
  Span* c = take(4);
  Span* guard = take(1);  // keeps the three away from the break
  ASSERT_TRUE(a && b && c && guard);
  ASSERT_EQ(b->base, a->base + a->bytes) << "fresh runs from the break are contiguous";
  ASSERT_EQ(c->base, b->base + b->bytes);
  const uintptr_t base = a->base, run = a->bytes;

  arena_free(a);
  Span* fa = page_map_lookup(at(base));
  ASSERT_NE(fa, nullptr);
  EXPECT_EQ(fa->kind, kFree);
  EXPECT_EQ(fa->base, base);
  EXPECT_EQ(fa->bytes, run);
  arena_free(c);  // not a neighbour of a: stays apart
  EXPECT_EQ(page_map_lookup(at(base))->bytes, run);
  EXPECT_EQ(arena_stats().free_bytes, 2 * run);

  arena_free(b);  // joins both neighbours
  Span* f = page_map_lookup(at(base));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, kFree);
  EXPECT_EQ(f->base, base);
  EXPECT_EQ(f->bytes, 3 * run);
  EXPECT_EQ(page_map_lookup(at(base + 3 * run - 1)), f) << "the merged run's last page";
  EXPECT_EQ(page_map_lookup(at(base + 3 * run)), guard);
  EXPECT_EQ(arena_stats().free_bytes, 3 * run);

  // The whole coalesced range is handed out again, from its start.
  const size_t before = arena_stats().below_break;
  Span* again = take(12);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->base, base);
  EXPECT_EQ(arena_stats().below_break, before) << "reuse must not move the break";
  EXPECT_EQ(arena_stats().free_bytes, 0u);
  arena_free(again);
  arena_free(guard);
}

TEST_F(Arena, PartOfAFreeRunIsReusedAndTheRestStaysFree) {
  Span* a = take(10);
  Span* guard = take(1);
  ASSERT_TRUE(a && guard);
  const uintptr_t base = a->base;
  arena_free(a);
  Span* part = take(3);
  ASSERT_NE(part, nullptr);
  EXPECT_EQ(part->base, base);
  Span* rest = page_map_lookup(at(base + 3 * kPageSize));
  ASSERT_NE(rest, nullptr);
  EXPECT_EQ(rest->kind, kFree);
  EXPECT_EQ(rest->base, base + 3 * kPageSize);
  EXPECT_EQ(rest->bytes, 7 * kPageSize);
  EXPECT_EQ(arena_stats().free_bytes, 7 * kPageSize);
  arena_free(part);
  EXPECT_EQ(page_map_lookup(at(base))->bytes, 10 * kPageSize);
  arena_free(guard);
}

TEST_F(Arena, BestFitAmongFreeRuns) {
  // Free runs of 8 and 3 pages separated by runs in use; a request for 3 takes the 3-page run.
  Span* r8 = take(8);
  Span* g1 = take(1);
  Span* r3 = take(3);
  Span* g2 = take(1);
  ASSERT_TRUE(r8 && g1 && r3 && g2);
  const uintptr_t base3 = r3->base;
  arena_free(r8);
  arena_free(r3);
  Span* s = take(3);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->base, base3);
  arena_free(s);
  arena_free(g1);
  arena_free(g2);
}

TEST_F(Arena, TheBreakMovesUpAndFallsWhenTheTopIsPurged) {
  const size_t b0 = arena_stats().below_break;
  Span* s = take(64);
  ASSERT_NE(s, nullptr);
  const uintptr_t base = s->base;
  const size_t bytes = s->bytes;
  EXPECT_EQ(arena_stats().below_break, b0 + bytes);
  touch(s);
  EXPECT_EQ(unit::resident_pages(at(base), bytes), long(bytes / kPageSize));
  arena_free(s);
  EXPECT_EQ(arena_stats().below_break, b0 + bytes) << "the purge delay keeps a fresh free run";
  EXPECT_EQ(arena_purge(false), 0u);
  EXPECT_EQ(arena_stats().below_break, b0 + bytes);
  EXPECT_GE(arena_purge(true), bytes);
  EXPECT_EQ(arena_stats().below_break, b0) << "the free top run was given back by lowering the break";
  EXPECT_EQ(page_map_lookup(at(base)), nullptr) << "pages above the break are not ours";
  EXPECT_EQ(unit::resident_pages(at(base), bytes), 0) << "lowered pages must not stay resident";
  // Taken again from the lowered break: same place, fresh zero pages.
  Span* t = take(64);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->base, base);
  const char* c = static_cast<const char*>(at(t->base));
  for (size_t i = 0; i < t->bytes; i += 512) ASSERT_EQ(c[i], 0) << "offset " << i;
  arena_free(t);
}

TEST_F(Arena, PurgeInsideTheArenaDropsDirtyPages) {
  const size_t pages = 1024;  // 4 MiB
  Span* s = take(pages);
  Span* guard = take(1);  // the run is not at the break: it is purged with madvise, the break stays
  ASSERT_TRUE(s && guard);
  const uintptr_t base = s->base;
  touch(s);
  const size_t below = arena_stats().below_break;
  ASSERT_EQ(unit::resident_pages(at(base), pages * kPageSize), long(pages));
  arena_free(s);
  ArenaStats st = arena_stats();
  EXPECT_EQ(st.dirty_bytes, pages * kPageSize);
  EXPECT_EQ(unit::resident_pages(at(base), pages * kPageSize), long(pages)) << "dirty pages stay until purged";
  EXPECT_EQ(arena_purge(false), 0u);
  EXPECT_EQ(unit::resident_pages(at(base), pages * kPageSize), long(pages));

  const size_t rss_before = os::resident_bytes();
  EXPECT_EQ(arena_purge(true), pages * kPageSize);
  const size_t rss_after = os::resident_bytes();
  EXPECT_EQ(unit::resident_pages(at(base), pages * kPageSize), 0);
  EXPECT_LE(rss_after + pages * kPageSize / 2, rss_before) << "the process's resident set (statm) falls";
  ArenaStats st2 = arena_stats();
  EXPECT_EQ(st2.dirty_bytes, 0u);
  EXPECT_GE(st2.purged_bytes, st.purged_bytes + pages * kPageSize);
  EXPECT_EQ(st2.below_break, below) << "a run below a live one does not move the break";
  EXPECT_EQ(st2.free_bytes, pages * kPageSize) << "purged runs stay free for reuse";

  // A purged run is reused in place and reads as zero.
  Span* t = take(pages);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->base, base);
  const char* c = static_cast<const char*>(at(t->base));
  for (size_t i = 0; i < t->bytes; i += 1024) ASSERT_EQ(c[i], 0) << "offset " << i;
  arena_free(t);
  arena_free(guard);
}

TEST_F(Arena, PurgeDelayIsRespected) {
  Span* s = take(16);
  Span* guard = take(1);
  ASSERT_TRUE(s && guard);
  const uintptr_t base = s->base;
  const size_t bytes = s->bytes;
  touch(s);
  arena_free(s);
  // A long delay: neither an explicit timed purge nor a later allocation drops the run.
  EXPECT_EQ(arena_purge(false), 0u);
  Span* other = take(1);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(arena_stats().dirty_bytes, bytes - kPageSize) << "the new run was cut from the dirty one";
  EXPECT_EQ(unit::resident_pages(at(base + kPageSize), bytes - kPageSize), long(bytes / kPageSize - 1));

  // A short delay: once it has passed, the next allocator call purges.
  g_options.purge_delay_ms = 20;
  usleep(80 * 1000);
  Span* trigger = take(1);  // arena_alloc purges runs older than the delay
  ASSERT_NE(trigger, nullptr);
  EXPECT_EQ(arena_stats().dirty_bytes, 0u);
  EXPECT_EQ(unit::resident_pages(at(base + 2 * kPageSize), bytes - 2 * kPageSize), 0);
  arena_free(trigger);
  arena_free(other);
  arena_free(guard);
}

TEST_F(Arena, ZeroDelayPurgesAtOnce) {
  g_options.purge_delay_ms = 0;
  Span* s = take(16);
  Span* guard = take(1);
  ASSERT_TRUE(s && guard);
  const uintptr_t base = s->base;
  const size_t bytes = s->bytes;
  touch(s);
  arena_free(s);
  EXPECT_EQ(arena_stats().dirty_bytes, 0u);
  EXPECT_EQ(unit::resident_pages(at(base), bytes), 0);
  arena_free(guard);
}

TEST_F(Arena, DirtyBytesFollowTheRecentPeak) {
  // Runs of 1, 2, ... 24 MiB, each freed before the next (longer) one is taken, with a page kept between
  // them so that none is reused: about 300 MiB freed while no more than 24 MiB was ever live. Even with a
  // long delay, dirty bytes stay within the cap, which follows that peak (at least 32 MiB, decay.h).
  // The pages are never touched, so this is cheap.
  decay_reset();
  std::vector<Span*> guards;
  size_t freed = 0;
  for (size_t k = 1; k <= 24; ++k) {
    Span* s = take(k * 256);
    ASSERT_NE(s, nullptr);
    guards.push_back(take(1));
    ASSERT_NE(guards.back(), nullptr);
    arena_free(s);
    freed += k << 20;
  }
  ArenaStats st = arena_stats();
  EXPECT_LE(st.dirty_cap, kMinDirtyCap);
  EXPECT_LE(st.dirty_bytes, kMinDirtyCap + (size_t{24} << 20)) << "freed " << freed;
  EXPECT_LT(st.dirty_bytes, freed / 4);
  for (Span* g : guards) arena_free(g);
}

TEST_F(Arena, TrimThresholdCapsDirtyBytes) {
  // glibc's M_TRIM_THRESHOLD, when set, is the cap: 64 MiB freed, 8 MiB kept dirty at most.
  const bool saved_set = g_options.trim_set;
  const size_t saved = g_options.trim_threshold;
  g_options.trim_threshold = size_t{8} << 20;
  g_options.trim_set = true;
  std::vector<Span*> runs;
  for (int i = 0; i < 64; ++i) runs.push_back(take(256));
  Span* guard = take(1);
  ASSERT_NE(guard, nullptr);
  for (Span* s : runs) {
    ASSERT_NE(s, nullptr);
    arena_free(s);
  }
  EXPECT_LE(arena_stats().dirty_bytes, size_t{8} << 20);
  arena_free(guard);
  g_options.trim_threshold = saved;
  g_options.trim_set = saved_set;
}

TEST_F(Arena, RunLargerThanAnArenaReservation) {
  const size_t pages = (kArenaReserve >> kPageShift) + 1;
  const unsigned arenas = arena_stats().arenas;
  Span* s = take(pages);
  ASSERT_NE(s, nullptr);
  EXPECT_GT(arena_stats().arenas, arenas);
  EXPECT_GE(arena_stats().reserved, pages * kPageSize);
  // Its first and last pages are usable and registered.
  *static_cast<char*>(at(s->base)) = 1;
  *static_cast<char*>(at(s->base + s->bytes - 1)) = 1;
  EXPECT_EQ(page_map_lookup(at(s->base + s->bytes - 1)), s);
  arena_free(s);
}

TEST_F(Arena, ConcurrentRunsNeverOverlap) {
  // Two threads take and give back runs; each writes its tag over its runs and checks them before freeing.
  auto worker = [](unsigned char tag, unsigned seed) {
    std::vector<Span*> held;
    for (int i = 0; i < 1500; ++i) {
      seed = seed * 1103515245u + 12345u;
      if (held.size() < 16 && (seed >> 16) % 3 != 0) {
        Span* s = arena_alloc(1 + (seed >> 20) % 8, kLarge);
        ASSERT_NE(s, nullptr);
        memset(at(s->base), tag, s->bytes);
        held.push_back(s);
      } else if (!held.empty()) {
        size_t k = (seed >> 8) % held.size();
        Span* s = held[k];
        const unsigned char* c = static_cast<const unsigned char*>(at(s->base));
        for (size_t j = 0; j < s->bytes; j += 256) ASSERT_EQ(c[j], tag);
        held[k] = held.back();
        held.pop_back();
        arena_free(s);
      }
    }
    for (Span* s : held) arena_free(s);
  };
  std::thread t1(worker, 0x11, 1u), t2(worker, 0x22, 2u);
  t1.join();
  t2.join();
}

}  // namespace
}  // namespace brkmalloc

namespace brkmalloc {
namespace {

// Free runs of many lengths above 255 pages (the mixed-length bins): a request takes the smallest run
// that fits, however many runs there are, and the break does not move.
TEST_F(Arena, BestFitAmongManyLongRuns) {
  std::vector<Span*> runs, guards;
  const size_t lengths[] = {300, 700, 420, 1300, 380, 2100, 520};
  for (int rep = 0; rep < 40; ++rep) {
    for (size_t n : lengths) {
      runs.push_back(take(n + rep % 3));
      guards.push_back(take(1));
    }
  }
  for (Span* s : runs) ASSERT_NE(s, nullptr);
  std::vector<std::pair<uintptr_t, size_t>> freed;
  for (Span* s : runs) {
    freed.emplace_back(s->base, s->bytes);
    arena_free(s);
  }
  EXPECT_EQ(arena_stats().free_runs, runs.size()) << "guards keep every run apart";
  const size_t below = arena_stats().below_break;
  for (size_t want : {size_t{390}, size_t{301}, size_t{1000}, size_t{2000}}) {
    size_t best = ~size_t{0};
    for (auto& f : freed)
      if (f.second >= want * kPageSize && f.second < best) best = f.second;
    Span* s = take(want);
    ASSERT_NE(s, nullptr);
    // The chosen run is within the bin's spread (25 %) of the best fit.
    Span* rest = page_map_lookup(at(s->base + s->bytes));
    size_t run_bytes = s->bytes + (rest && rest->kind == kFree && rest->base == s->base + s->bytes ? rest->bytes : 0);
    EXPECT_LE(run_bytes, best + best / 4) << "want " << want;
    arena_free(s);
  }
  EXPECT_EQ(arena_stats().below_break, below);
  for (Span* g : guards) arena_free(g);
}

// A run freed next to a purged one stays apart from it: purging again madvises only the new dirty
// pages, never the ones already given back.
TEST_F(Arena, NothingPurgedIsPurgedAgain) {
  Span* a = take(64);
  Span* b = take(64);
  Span* guard = take(1);
  ASSERT_TRUE(a && b && guard);
  touch(a);
  touch(b);
  arena_free(a);
  ArenaStats s0 = arena_stats();
  arena_purge(true);
  ArenaStats s1 = arena_stats();
  EXPECT_EQ(s1.madvised_bytes - s0.madvised_bytes, 64 * kPageSize);
  arena_free(b);  // next to the clean run a
  EXPECT_EQ(arena_stats().dirty_bytes, 64 * kPageSize) << "only b's pages are dirty";
  arena_purge(true);
  ArenaStats s2 = arena_stats();
  EXPECT_EQ(s2.madvised_bytes - s1.madvised_bytes, 64 * kPageSize) << "a was not madvised again";
  EXPECT_EQ(s2.free_runs, s0.free_runs) << "once clean, the two runs merge";
  arena_free(guard);
}

TEST_F(Arena, AlignedRunsSplitOffTheRest) {
  Span* pad = take(3);  // the break is no longer aligned
  ASSERT_NE(pad, nullptr);
  for (size_t align_pages : {size_t{2}, size_t{16}, size_t{512}}) {
    SCOPED_TRACE(align_pages);
    Span* s = arena_alloc(5, kLarge, align_pages);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->base % (align_pages * kPageSize), 0u);
    EXPECT_EQ(s->bytes, 5 * kPageSize);
    EXPECT_EQ(page_map_lookup(at(s->base)), s);
    touch(s);
    arena_free(s);
  }
  arena_free(pad);
}

TEST_F(Arena, ResizeInPlace) {
  Span* s = take(10);
  Span* guard = take(1);
  ASSERT_TRUE(s && guard);
  touch(s);
  EXPECT_TRUE(arena_resize(s, 4)) << "shrinking always works";
  EXPECT_EQ(s->bytes, 4 * kPageSize);
  EXPECT_EQ(arena_stats().free_bytes, 6 * kPageSize);
  EXPECT_TRUE(arena_resize(s, 10)) << "the free run after it is taken back";
  EXPECT_EQ(arena_stats().free_bytes, 0u);
  EXPECT_FALSE(arena_resize(s, 11)) << "the guard is in the way";
  EXPECT_EQ(s->bytes, 10 * kPageSize);
  arena_free(guard);
  // Now s's end meets a free run that reaches the break, or the break itself.
  EXPECT_TRUE(arena_resize(s, 40));
  EXPECT_EQ(page_map_lookup(at(s->base + s->bytes - 1)), s);
  touch(s);
  arena_free(s);
}

}  // namespace
}  // namespace brkmalloc
