// Per-thread heaps (allocator/heap.h) through the prefixed API: blocks of every class, reuse order,
// frees from other threads through the spans' remote lists, heap reuse after thread exit, allocation from a pthread key
// destructor after brkmalloc's own teardown, calloc over dirty memory, realloc across classes and the
// threshold, and the mmap threshold switch.
#include "allocator/heap.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <string.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "allocator/brkmalloc.h"
#include "allocator/page_map.h"
#include "allocator/size_classes.h"
#include "tests/unit/unit_util.h"

namespace brkmalloc {
namespace {

unsigned char pattern(const void* block, size_t i) {
  return static_cast<unsigned char>((reinterpret_cast<uintptr_t>(block) >> 4) * 31 + i * 7 + 3);
}

// Writes a pattern over a block: every byte of small blocks, head, tail and a stride of big ones.
template <typename F>
void for_sampled_offsets(size_t size, F f) {
  if (size <= 8192) {
    for (size_t i = 0; i < size; ++i) f(i);
    return;
  }
  for (size_t i = 0; i < 256; ++i) f(i);
  for (size_t i = 256; i < size - 256; i += 1021) f(i);
  for (size_t i = size - 256; i < size; ++i) f(i);
}
void fill(void* p, size_t size) {
  for_sampled_offsets(size, [&](size_t i) { static_cast<unsigned char*>(p)[i] = pattern(p, i); });
}
bool intact(const void* p, size_t size) {
  bool ok = true;
  for_sampled_offsets(size, [&](size_t i) { ok = ok && static_cast<const unsigned char*>(p)[i] == pattern(p, i); });
  return ok;
}

// Keeps the mmap threshold for the duration of a test.
class ThresholdGuard {
 public:
  explicit ThresholdGuard(size_t t) : saved_(brk_mmap_threshold()) { brk_set_mmap_threshold(t); }
  ~ThresholdGuard() { brk_set_mmap_threshold(saved_); }

 private:
  size_t saved_;
};

TEST(Heap, ManyBlocksOfEveryClass) {
  ThresholdGuard all_classes(kMaxSmallSize);
  struct Live {
    void* p;
    size_t request, usable;
  };
  std::vector<Live> live;
  for (unsigned c = 0; c < kNumClasses; ++c) {
    const size_t n = kClasses.info[c].capacity + 1;  // more than one span's worth
    const size_t lo = c == 0 ? 1 : class_size(c - 1) + 1;
    for (size_t i = 0; i < n; ++i) {
      size_t request = i % 2 ? class_size(c) : lo;  // both ends of the class's range
      void* p = brk_malloc(request);
      ASSERT_NE(p, nullptr) << "class " << c;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kMinAlign, 0u);
      size_t u = brk_usable_size(p);
      EXPECT_GE(u, request);
      EXPECT_EQ(u, class_size(c)) << "request " << request;
      Span* s = page_map_lookup(p);
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(s->kind, kSmall);
      EXPECT_EQ(s->cls, c);
      fill(p, u);
      live.push_back({p, request, u});
    }
  }
  // Distinct and disjoint.
  std::vector<std::pair<uintptr_t, size_t>> ranges;
  for (const Live& l : live) ranges.push_back({reinterpret_cast<uintptr_t>(l.p), l.usable});
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    ASSERT_LE(ranges[i - 1].first + ranges[i - 1].second, ranges[i].first) << "blocks overlap";
  // Contents survive everything allocated after them.
  for (const Live& l : live) ASSERT_TRUE(intact(l.p, l.usable)) << "block " << l.p << " of " << l.usable;
  for (const Live& l : live) brk_free(l.p);
}

TEST(Heap, MallocZeroGivesDistinctBlocks) {
  std::set<void*> seen;
  std::vector<void*> v;
  for (int i = 0; i < 100; ++i) {
    void* p = brk_malloc(0);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(seen.insert(p).second);
    EXPECT_GE(brk_usable_size(p), 1u);
    v.push_back(p);
  }
  for (void* p : v) brk_free(p);
}

TEST(Heap, FreedBlocksAreReusedLastInFirstOut) {
  for (size_t size : {16, 48, 200, 1000, 3000, 20000}) {
    SCOPED_TRACE(size);
    // Up to eight blocks from one span (the current one).
    const size_t k = std::min<size_t>(8, kClasses.info[size_to_class(size)].capacity);
    ASSERT_GE(k, 4u);
    std::vector<void*> extra, blocks;
    while (blocks.size() < k) {
      void* p = brk_malloc(size);
      ASSERT_NE(p, nullptr);
      if (!blocks.empty() && page_map_lookup(p) != page_map_lookup(blocks[0])) {
        for (void* b : blocks) extra.push_back(b);  // crossed into a new span: start over there
        blocks.clear();
      }
      blocks.push_back(p);
    }
    // A scrambled freeing order.
    std::vector<void*> order;
    for (size_t i = 1; i < k; i += 2) order.push_back(blocks[i]);
    for (size_t i = k; i-- > 0;) if (i % 2 == 0) order.push_back(blocks[i]);
    for (void* p : order) brk_free(p);
    for (size_t i = order.size(); i-- > 0;) EXPECT_EQ(brk_malloc(size), order[i]) << "reuse #" << order.size() - i;
    for (void* p : blocks) brk_free(p);
    for (void* p : extra) brk_free(p);
  }
}

TEST(Heap, StatsCountLiveSmallBytes) {
  brk_stats before, during, after;
  brk_get_stats(&before);
  std::vector<void*> v;
  for (int i = 0; i < 300; ++i) v.push_back(brk_malloc(1000));
  brk_get_stats(&during);
  EXPECT_EQ(during.allocated - before.allocated, 300 * class_size(size_to_class(1000)));
  EXPECT_EQ(during.large_allocated, before.large_allocated);
  for (void* p : v) brk_free(p);
  brk_get_stats(&after);
  EXPECT_EQ(after.allocated, before.allocated);
}

// Thread A allocates, thread B frees them all (onto their spans' remote lists), A allocates again and gets every block
// back before any new span is made.
TEST(Heap, CrossThreadFreesComeBackToTheOwner) {
  const size_t size = 96;
  const unsigned cls = size_to_class(size);
  const size_t n = 1000;
  std::thread a([&] {
    std::vector<void*> blocks;
    for (size_t i = 0; i < n; ++i) {
      blocks.push_back(brk_malloc(size));
      ASSERT_NE(blocks.back(), nullptr);
      fill(blocks.back(), size);
    }
    // Keep one block per span, so that no span falls empty and goes back to the arena.
    std::set<Span*> spans;
    std::vector<void*> kept, given;
    for (void* p : blocks) (spans.insert(page_map_lookup(p)).second ? kept : given).push_back(p);
    Heap* mine = tls_heap;
    std::thread b([&] {
      for (void* p : given) {
        ASSERT_TRUE(intact(p, size));
        brk_free(p);
      }
    });
    b.join();
    // Each block B freed is marked free (pending on its span, or already collected by the purger).
    for (void* p : given) EXPECT_TRUE(marked_free(static_cast<Block*>(p))) << p;
    std::set<void*> want(given.begin(), given.end());
    std::vector<void*> again;
    const size_t budget = given.size() + (spans.size() + 1) * kClasses.info[cls].capacity;
    while (!want.empty() && again.size() < budget) {
      void* p = brk_malloc(size);
      ASSERT_NE(p, nullptr);
      want.erase(p);
      again.push_back(p);
    }
    EXPECT_TRUE(want.empty()) << want.size() << " of " << given.size() << " blocks freed by B never came back";
    EXPECT_EQ(mine->remote_spans.load(), nullptr) << "the remote frees were drained";
    for (void* p : again) brk_free(p);
    for (void* p : kept) brk_free(p);
  });
  a.join();
}

TEST(Heap, ProducerConsumerAcrossThreads) {
  // Two threads hand blocks to each other through a queue; the receiver checks and frees them.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<void*, size_t>> q[2];
  const int per_thread = 20000;
  auto run = [&](int me) {
    unsigned seed = 77u + unsigned(me);
    int sent = 0, received = 0;
    while (sent < per_thread || received < per_thread) {
      if (sent < per_thread) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 1 + (seed >> 16) % 2048;
        void* p = brk_malloc(size);
        ASSERT_NE(p, nullptr);
        fill(p, size);
        std::lock_guard<std::mutex> g(mu);
        q[1 - me].push_back({p, size});
        ++sent;
        cv.notify_all();
      }
      std::pair<void*, size_t> item{nullptr, 0};
      {
        std::unique_lock<std::mutex> g(mu);
        if (sent == per_thread) cv.wait(g, [&] { return !q[me].empty(); });
        if (!q[me].empty()) {
          item = q[me].front();
          q[me].pop_front();
        }
      }
      if (item.first) {
        ASSERT_TRUE(intact(item.first, item.second));
        brk_free(item.first);
        ++received;
      }
    }
  };
  std::thread t0(run, 0), t1(run, 1);
  t0.join();
  t1.join();
}

TEST(Heap, ExitedThreadsHeapIsReused) {
  auto heap_of_new_thread = [] {
    Heap* h = nullptr;
    std::thread t([&] {
      void* p = brk_malloc(64);
      h = tls_heap;
      brk_free(p);
    });
    t.join();
    return h;
  };
  Heap* first = heap_of_new_thread();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(first, &g_empty_heap);
  brk_stats st0;
  brk_get_stats(&st0);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(heap_of_new_thread(), first) << "a new thread takes over the heap the last one left";
    brk_stats st;
    brk_get_stats(&st);
    EXPECT_EQ(st.thread_heaps, st0.thread_heaps) << "no new heap for a thread started after another exited";
  }
  // Two threads alive at once need two heaps; afterwards both are reused.
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  auto together = [&] {
    void* p = brk_malloc(64);
    std::unique_lock<std::mutex> g(mu);
    ++arrived;
    cv.notify_all();
    cv.wait(g, [&] { return arrived == 2; });
    brk_free(p);
  };
  std::thread a(together), b(together);
  a.join();
  b.join();
  brk_stats st1;
  brk_get_stats(&st1);
  EXPECT_LE(st1.thread_heaps, st0.thread_heaps + 1);
  arrived = 0;
  std::thread c(together), d(together);
  c.join();
  d.join();
  brk_stats st2;
  brk_get_stats(&st2);
  EXPECT_EQ(st2.thread_heaps, st1.thread_heaps);
}

// A pthread key destructor that runs after brkmalloc's own thread-exit destructor allocates and frees.
struct LateResult {
  bool heap_torn_down = false;  // brkmalloc's exit destructor had run before ours
  bool small_ok = false, large_ok = false, calloc_ok = false, realloc_ok = false;
  void* early = nullptr;  // allocated by the thread's own heap before exit, freed by the destructor
};
LateResult g_late;

void late_destructor(void*) {
  g_late.heap_torn_down = tls_heap == &g_empty_heap;
  char* p = static_cast<char*>(brk_malloc(100));
  if (p) {
    memset(p, 0x5c, 100);
    g_late.small_ok = brk_usable_size(p) >= 100 && p[99] == 0x5c;
  }
  void* big = brk_malloc(brk_mmap_threshold() * 2);
  if (big) {
    memset(big, 1, 4096);
    g_late.large_ok = true;
    brk_free(big);
  }
  unsigned char* z = static_cast<unsigned char*>(brk_calloc(50, 10));
  g_late.calloc_ok = z && std::all_of(z, z + 500, [](unsigned char c) { return c == 0; });
  char* r = static_cast<char*>(brk_realloc(p, 5000));
  g_late.realloc_ok = r && r[99] == 0x5c;
  brk_free(r);
  brk_free(z);
  brk_free(g_late.early);  // a block of the exited thread's heap: goes to its span's remote list
}

TEST(Heap, AllocationInAKeyDestructorAfterTeardown) {
  // brkmalloc creates its thread-exit key at initialization, which has happened by now (this process has
  // allocated). glibc runs key destructors in key order and hands out the lowest free key, so a key
  // created now (none was deleted before) runs after brkmalloc's. The destructor checks that it did.
  void* warm = brk_malloc(1);
  brk_free(warm);
  pthread_key_t key;
  ASSERT_EQ(pthread_key_create(&key, late_destructor), 0);
  std::thread t([&] {
    g_late.early = brk_malloc(200);
    pthread_setspecific(key, reinterpret_cast<void*>(1));
  });
  t.join();
  EXPECT_TRUE(g_late.heap_torn_down) << "our destructor ran before brkmalloc's: the scenario was not tested";
  EXPECT_TRUE(g_late.small_ok);
  EXPECT_TRUE(g_late.large_ok);
  EXPECT_TRUE(g_late.calloc_ok);
  EXPECT_TRUE(g_late.realloc_ok);
  pthread_key_delete(key);
  // A later thread takes over the exited heap and drains the block the destructor freed into it.
  std::thread u([] {
    std::vector<void*> v;
    for (int i = 0; i < 5000; ++i) v.push_back(brk_malloc(200));
    for (void* p : v) brk_free(p);
  });
  u.join();
}

TEST(Heap, CallocIsZeroAfterDirtyReuse) {
  for (size_t size : {size_t{16}, size_t{64}, size_t{1000}, size_t{4000}, size_t{50000}, brk_mmap_threshold()}) {
    SCOPED_TRACE(size);
    void* p = brk_malloc(size);
    ASSERT_NE(p, nullptr);
    memset(p, 0xff, size);
    brk_free(p);
    unsigned char* q = static_cast<unsigned char*>(brk_calloc(1, size));
    ASSERT_EQ(q, p) << "the same block comes back (LIFO), so calloc is tested on dirty memory";
    EXPECT_TRUE(std::all_of(q, q + size, [](unsigned char c) { return c == 0; }));
    brk_free(q);
  }
}

TEST(Heap, CallocIsZeroOnPagesOfAnotherClass) {
  // Dirty whole spans of one class, give one span back to the arena (its pages stay resident and dirty),
  // then calloc blocks of another class with the same span length: the arena hands that run out again
  // (the most recently freed run of exactly that length) and calloc must clear the old contents.
  const size_t big = 4096, small = 64;
  const unsigned big_cls = size_to_class(big), small_cls = size_to_class(small);
  ASSERT_EQ(kClasses.info[big_cls].pages, kClasses.info[small_cls].pages) << "premise: same span length";
  std::vector<void*> v;
  for (size_t i = 0; i < 8 * kClasses.info[big_cls].capacity; ++i) {
    v.push_back(brk_malloc(big));
    ASSERT_NE(v.back(), nullptr);
    memset(v.back(), 0xee, big);
  }
  std::set<Span*> ours;
  for (void* p : v) ours.insert(page_map_lookup(p));
  // A span that is not the current one and whose neighbours are not free runs (they are spans in use,
  // which this test does not free, or no span at all), so that once released it coalesces with nothing.
  Span* current = page_map_lookup(v.back());
  Span* victim = nullptr;
  auto not_free = [](const Span* n) { return !n || n->kind != kFree; };
  for (Span* s : ours) {
    Span* l = page_map_lookup(reinterpret_cast<void*>(s->base - 1));
    Span* r = page_map_lookup(reinterpret_cast<void*>(s->base + s->bytes));
    if (s != current && not_free(l) && not_free(r)) victim = s;
  }
  ASSERT_NE(victim, nullptr) << "no span without free neighbours";
  const uintptr_t lo = victim->base, hi = victim->base + victim->bytes;
  std::vector<void*> rest;
  for (void* p : v) {
    if (page_map_lookup(p) == victim) brk_free(p); else rest.push_back(p);
  }
  Span* freed = page_map_lookup(reinterpret_cast<void*>(lo));
  ASSERT_NE(freed, nullptr);
  ASSERT_EQ(freed->kind, kFree) << "an empty span that is not current goes back to the arena";
  ASSERT_EQ(freed->bytes, hi - lo);
  ASSERT_EQ(unit::resident_pages(reinterpret_cast<void*>(lo), hi - lo), long((hi - lo) / kPageSize))
      << "premise: the freed run is still dirty";
  std::vector<void*> z;
  size_t landed = 0;
  for (size_t i = 0; i < 10 * kClasses.info[small_cls].capacity && landed < 100; ++i) {
    unsigned char* q = static_cast<unsigned char*>(brk_calloc(1, small));
    ASSERT_NE(q, nullptr);
    ASSERT_TRUE(std::all_of(q, q + small, [](unsigned char c) { return c == 0; })) << "block " << i;
    landed += uintptr_t(q) >= lo && uintptr_t(q) < hi;
    z.push_back(q);
  }
  EXPECT_EQ(landed, 100u) << "calloc never reused the freed dirty run: the test proved nothing";
  for (void* q : z) brk_free(q);
  for (void* p : rest) brk_free(p);
}

TEST(Heap, ReallocAcrossClassesAndTheThresholdKeepsContents) {
  const size_t t = brk_mmap_threshold();
  const size_t sizes[] = {1, 17, 100, 1000, 5000, 65536, t, t + 1, 3 * t, 8 * t, 30 * t, 2 * t, t + 1, t, t - 1,
                          5000, 100, 10, 1};
  unsigned char* p = nullptr;
  size_t have = 0;
  for (size_t n : sizes) {
    SCOPED_TRACE(n);
    unsigned char* q = static_cast<unsigned char*>(brk_realloc(p, n));
    ASSERT_NE(q, nullptr);
    EXPECT_GE(brk_usable_size(q), n);
    Span* s = page_map_lookup(q);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->kind, n > t ? kLarge : kSmall);
    size_t keep = std::min(have, n);
    for (size_t i = 0; i < keep; ++i) ASSERT_EQ(q[i], static_cast<unsigned char>(i * 13 + 5)) << "byte " << i;
    for (size_t i = keep; i < n; ++i) q[i] = static_cast<unsigned char>(i * 13 + 5);
    p = q;
    have = n;
  }
  brk_free(p);
}

TEST(Heap, ReallocWithinTheClassKeepsTheBlock) {
  void* p = brk_malloc(100);
  const size_t u = brk_usable_size(p);
  EXPECT_EQ(brk_realloc(p, u), p);
  EXPECT_EQ(brk_realloc(p, u / 2 + 1), p);
  brk_free(p);
}

TEST(Heap, MmapThresholdDecidesWhichSizesGetTheirOwnMapping) {
  const size_t saved = brk_mmap_threshold();
  auto kind_of = [](size_t size) {
    void* p = brk_malloc(size);
    Span* s = page_map_lookup(p);
    // A block above the largest class but within the threshold is an arena run: kind kLarge in an arena.
    int k = s ? (s->kind == kLarge && s->in_arena ? int(kSmall) : int(s->kind)) : -1;
    if (s && s->kind == kLarge && !s->in_arena) {
      EXPECT_EQ(s->start, reinterpret_cast<uintptr_t>(p));
      EXPECT_NE(unit::maps_line_covering(p, size), "") << "a large block is mapped";
    }
    brk_free(p);
    return k;
  };
  EXPECT_EQ(kind_of(saved), int(kSmall));
  EXPECT_EQ(kind_of(saved + 1), int(kLarge));
  brk_set_mmap_threshold(64 << 10);
  EXPECT_EQ(brk_mmap_threshold(), size_t{64} << 10);
  EXPECT_EQ(kind_of(64 << 10), int(kSmall));
  EXPECT_EQ(kind_of((64 << 10) + 1), int(kLarge));
  EXPECT_EQ(kind_of(100 << 10), int(kLarge));
  brk_set_mmap_threshold(BRK_MAX_MMAP_THRESHOLD);
  EXPECT_EQ(kind_of(512 << 10), int(kSmall));
  EXPECT_EQ(kind_of(BRK_MAX_MMAP_THRESHOLD), int(kSmall));
  EXPECT_EQ(kind_of(BRK_MAX_MMAP_THRESHOLD + 1), int(kLarge));
  brk_set_mmap_threshold(size_t{BRK_MAX_MMAP_THRESHOLD} * 2);
  EXPECT_EQ(brk_mmap_threshold(), size_t{BRK_MAX_MMAP_THRESHOLD}) << "clamped";
  brk_set_mmap_threshold(100);
  EXPECT_EQ(kind_of(100), int(kSmall));
  EXPECT_EQ(kind_of(101), int(kLarge));
  brk_set_mmap_threshold(saved);
  EXPECT_EQ(brk_mmap_threshold(), saved);
  EXPECT_EQ(kind_of(saved), int(kSmall));
  EXPECT_EQ(kind_of(saved + 1), int(kLarge));
}

TEST(Heap, TrimReturnsEmptySpans) {
  std::vector<void*> v;
  for (int i = 0; i < 2000; ++i) {
    v.push_back(brk_malloc(2000));
    memset(v.back(), 1, 2000);
  }
  for (void* p : v) brk_free(p);
  brk_trim(0);
  brk_stats st;
  brk_get_stats(&st);
  EXPECT_EQ(st.dirty, 0u) << "brk_trim leaves no dirty pages";
}

}  // namespace
}  // namespace brkmalloc

namespace brkmalloc {
namespace {

// Blocks of 64 KiB and up live alone in one-block spans. Freeing one of each of several big classes
// must leave at most one of those spans held (empty) by the heap: the others go back to the arena.
TEST(Heap, AtMostOneEmptyBigSpanIsKept) {
  ThresholdGuard big(kMaxSmallSize);
  std::vector<void*> freed;
  for (size_t n : {size_t{80} << 10, size_t{160} << 10, size_t{320} << 10, size_t{640} << 10,
                   size_t{1} << 20}) {
    ASSERT_EQ(kClasses.info[size_to_class(n)].capacity, 1u) << n;
    void* p = brk_malloc(n);
    ASSERT_NE(p, nullptr);
    memset(p, 0x6B, n);
    brk_free(p);
    freed.push_back(p);
  }
  std::set<const Span*> held;
  for (void* p : freed) {
    Span* s = page_map_lookup(p);
    if (s && s->kind == kSmall && s->owner == tls_heap && s->used == 0 && tls_heap->current[s->cls] == s)
      held.insert(s);
  }
  EXPECT_EQ(held.size(), 1u) << "empty one-block spans still held by the heap";
  // Malloc/free of the last size stays on its kept span (the same block comes back).
  void* again = brk_malloc(size_t{1} << 20);
  EXPECT_EQ(again, freed.back());
  brk_free(again);
}

}  // namespace
}  // namespace brkmalloc
