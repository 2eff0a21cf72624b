// Reclaiming what other threads' heaps hold (heap.h): blocks freed to an idle or exited thread's heap, and
// the spans of many threads that freed everything and went idle, go back at once on brk_trim(0) and
// within about a purge delay without it; statistics count only live blocks. Also: remote frees while
// threads exit mid-run (run under TSan too), and span reuse at every size class with contents checked.
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "allocator/brkmalloc.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/size_classes.h"

namespace brkmalloc {
namespace {

// Statistics, with `resident` replaced by the process's anonymous resident bytes: file pages (code paged
// in as a test first runs a path) are not memory an allocator can give back.
// glibc serves this test's own containers: it is trimmed too, so that what it keeps is not counted.
brk_stats stats() {
  malloc_trim(0);
  brk_stats st;
  brk_get_stats(&st);
  st.resident = 0;
  if (FILE* f = fopen("/proc/self/status", "re")) {
    char line[256];
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "RssAnon: %zu kB", &st.resident) == 1) st.resident <<= 10;
    fclose(f);
  }
  EXPECT_GT(st.resident, 0u);
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  // A sanitizer's shadow memory follows what the program touched and stays: judge by what we hold.
  st.resident = st.mapped;
#endif
  return st;
}

// Blocks a worker allocates, filled, for the main thread to free. The list is reserved by the caller's
// thread: in the worker, glibc (which serves std::vector here) would make a thread arena of its own, and
// what it keeps would count in the RSS the tests compare.
void worker_blocks(std::vector<void*>& v, size_t bytes, size_t size) {
  for (size_t done = 0; done < bytes; done += size) {
    void* p = brk_malloc(size);
    EXPECT_NE(p, nullptr);
    memset(p, 0x3c, size);
    v.push_back(p);
  }
}

// The worker stays alive and idle (blocked) until the test is done with its heap.
TEST(Reclaim, BlocksFreedToAnIdleThreadGoBackOnTrim) {
  brk_trim(0);
  const brk_stats base = stats();
  std::vector<void*> blocks;
  std::mutex mu;
  std::condition_variable cv;
  bool filled = false, done = false;
  blocks.reserve((size_t{64} << 20) / 64);
  std::thread worker([&] {
    worker_blocks(blocks, size_t{64} << 20, 64);
    std::unique_lock<std::mutex> l(mu);
    filled = true;
    cv.notify_all();
    cv.wait(l, [&] { return done; });
  });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return filled; });
  }
  const brk_stats peak = stats();
  ASSERT_GE(peak.allocated, base.allocated + (size_t{64} << 20));
  for (void* p : blocks) {
    ASSERT_EQ(static_cast<unsigned char*>(p)[63], 0x3c);
    brk_free(p);
  }
  std::vector<void*>().swap(blocks);  // the list itself lives in glibc's heap: not ours to count
  brk_trim(0);
  const brk_stats after = stats();
  // Live blocks: back where they were (a span's worth of slack for what the test's own vector holds).
  EXPECT_LE(after.allocated, base.allocated + kClasses.info[size_to_class(64)].pages * kPageSize)
      << "blocks freed to an idle heap still counted as live";
  const size_t grew = peak.resident - base.resident;
  EXPECT_LE(after.resident, base.resident + grew / 10) << "RSS after trim, peak growth " << grew;
  {
    std::lock_guard<std::mutex> l(mu);
    done = true;
  }
  cv.notify_all();
  worker.join();
}

TEST(Reclaim, BlocksFreedToAnExitedThreadGoBackOnTrim) {
  brk_trim(0);
  const brk_stats base = stats();
  std::vector<void*> blocks;
  blocks.reserve((size_t{32} << 20) / 96);
  std::thread([&] { worker_blocks(blocks, size_t{32} << 20, 96); }).join();
  const brk_stats peak = stats();
  for (void* p : blocks) brk_free(p);  // every free goes to the exited thread's (pooled) heap
  std::vector<void*>().swap(blocks);
  brk_trim(0);
  const brk_stats after = stats();
  EXPECT_LE(after.allocated, base.allocated + kClasses.info[size_to_class(96)].pages * kPageSize);
  EXPECT_LE(after.resident, base.resident + (peak.resident - base.resident) / 10)
      << "base " << base.resident << " peak " << peak.resident << " mapped " << after.mapped << " was "
      << peak.mapped << " dirty " << after.dirty;
}

// Without brk_trim: the purger drains the idle heap and purges what it gave back after the delay.
TEST(Reclaim, BlocksFreedToAnIdleThreadGoBackWithoutTrim) {
  ASSERT_TRUE(g_options.purge_thread && g_options.purge_delay_ms > 0) << "run with the background purger";
  brk_trim(0);
  const brk_stats base = stats();
  std::vector<void*> blocks;
  std::atomic<bool> filled{false}, done{false};
  blocks.reserve((size_t{64} << 20) / 48);
  std::thread worker([&] {
    worker_blocks(blocks, size_t{64} << 20, 48);
    filled = true;
    while (!done) usleep(1000);
  });
  while (!filled) usleep(1000);
  const brk_stats peak = stats();
  for (void* p : blocks) brk_free(p);
  std::vector<void*>().swap(blocks);
  // The purger reclaims within its interval, then purges after the delay: wait up to four delays.
  brk_stats after = stats();
  for (int i = 0; i < 40 && after.resident > base.resident + (peak.resident - base.resident) / 4; ++i) {
    usleep(useconds_t(g_options.purge_delay_ms * 100));
    after = stats();
  }
  EXPECT_LE(after.resident, base.resident + (peak.resident - base.resident) / 4);
  done = true;
  worker.join();
}

// Many threads allocate and free their own memory, then idle: trim gives back what their heaps hold
// that nobody uses.
TEST(Reclaim, ManyThreadsIdleAfterFreeing) {
  brk_trim(0);
  const brk_stats base = stats();
  constexpr int kThreads = 16;
  std::atomic<int> ready{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      std::vector<void*> v;
      for (size_t done_bytes = 0; done_bytes < (size_t{4} << 20);) {
        size_t size = 16 + (v.size() * 37 + t * 11) % 2000;
        v.push_back(brk_malloc(size));
        memset(v.back(), t, size);
        done_bytes += size;
      }
      for (void* p : v) brk_free(p);
      ++ready;
      while (!done) usleep(1000);
    });
  }
  while (ready < kThreads) usleep(1000);
  const brk_stats idle = stats();
  brk_trim(0);
  const brk_stats after = stats();
  EXPECT_LE(after.allocated, base.allocated + kPageSize) << "nothing is live";
  EXPECT_LE(after.resident, idle.resident) << "trim does not add memory";
  done = true;
  for (auto& t : ts) t.join();
}

// Producers allocate and exit while consumers free their blocks: remote frees to heaps whose threads are
// gone or going (TSan checks the protocol).
TEST(Reclaim, RemoteFreesWhileThreadsExit) {
  std::mutex mu;
  std::vector<void*> q;
  std::atomic<bool> stop{false};
  auto consumer = [&] {
    for (;;) {
      std::vector<void*> take;
      {
        std::lock_guard<std::mutex> l(mu);
        take.swap(q);
      }
      for (void* p : take) {
        EXPECT_EQ(*static_cast<unsigned char*>(p), 0x77);
        brk_free(p);
      }
      if (take.empty()) {
        if (stop) break;
        std::this_thread::yield();
      }
    }
  };
  std::thread c1(consumer), c2(consumer);
  for (int round = 0; round < 40; ++round) {
    std::vector<std::thread> producers;
    for (int t = 0; t < 3; ++t) {
      producers.emplace_back([&, t] {
        std::vector<void*> mine;
        for (int i = 0; i < 500; ++i) {
          size_t size = 16 + size_t((i * 131 + t * 7) % 900);
          void* p = brk_malloc(size);
          memset(p, 0x77, size);
          mine.push_back(p);
        }
        std::lock_guard<std::mutex> l(mu);
        q.insert(q.end(), mine.begin(), mine.end());
      });
    }
    for (auto& p : producers) p.join();
    if (round % 8 == 0) brk_trim(0);  // a reclaimer racing the consumers
  }
  stop = true;
  c1.join();
  c2.join();
}

// Every size class: fill several spans, free a random half, allocate again (reusing spans that regained
// blocks), and check every block's contents throughout.
TEST(Reclaim, SpanReuseAtEverySizeClassKeepsContents) {
  uint64_t seed = 12345;
  auto rnd = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  const size_t limit = brk_mmap_threshold() < kMaxSmallSize ? brk_mmap_threshold() : kMaxSmallSize;
  for (unsigned cls = 0; cls < kNumClasses && class_size(cls) <= limit; ++cls) {
    const size_t size = class_size(cls);
    const size_t n = kClasses.info[cls].capacity * 3 + 1;
    struct Item {
      unsigned char* p;
      unsigned char tag;
    };
    std::vector<Item> items;
    auto alloc = [&] {
      unsigned char tag = static_cast<unsigned char>(rnd());
      unsigned char* p = static_cast<unsigned char*>(brk_malloc(size));
      ASSERT_NE(p, nullptr);
      p[0] = tag;
      p[size / 2] = tag;
      p[size - 1] = tag;
      items.push_back({p, tag});
    };
    auto intact = [&](const Item& it) {
      return it.p[0] == it.tag && it.p[size / 2] == it.tag && it.p[size - 1] == it.tag;
    };
    for (size_t i = 0; i < n; ++i) alloc();
    for (int round = 0; round < 3; ++round) {
      for (size_t i = 0; i < items.size();) {
        if (rnd() % 2) {
          ASSERT_TRUE(intact(items[i])) << "class " << cls;
          brk_free(items[i].p);
          items[i] = items.back();
          items.pop_back();
        } else {
          ++i;
        }
      }
      while (items.size() < n) alloc();
      for (const Item& it : items) ASSERT_TRUE(intact(it)) << "class " << cls;
    }
    for (const Item& it : items) brk_free(it.p);
  }
}

}  // namespace
}  // namespace brkmalloc

namespace brkmalloc {
namespace {

// Big blocks kept in the arenas for reuse (large.h) still go back to the OS: after churning blocks of a
// few MiB and freeing them, RSS falls to near where it was within a few purge delays, without brk_trim.
TEST(Reclaim, BigBlockChurnGivesPagesBackAfterTheDelay) {
  ASSERT_TRUE(g_options.purge_thread && g_options.purge_delay_ms > 0) << "run with the background purger";
  brk_trim(0);
  const brk_stats base = stats();
  std::vector<void*> live(8, nullptr);
  uint64_t seed = 7;
  for (int i = 0; i < 200; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    size_t k = (seed >> 33) % live.size();
    size_t size = (size_t{2} << 20) + ((seed >> 40) % 6) * (size_t{1} << 20);
    brk_free(live[k]);
    live[k] = brk_malloc(size);
    ASSERT_NE(live[k], nullptr);
    memset(live[k], int(i), size);
  }
  const brk_stats peak = stats();
  ASSERT_GT(peak.resident, base.resident + (size_t{16} << 20));
  for (void*& p : live) {
    brk_free(p);
    p = nullptr;
  }
  brk_stats after = stats();
  for (int i = 0; i < 40 && after.resident > base.resident + (peak.resident - base.resident) / 10; ++i) {
    usleep(useconds_t(g_options.purge_delay_ms * 100));
    after = stats();
  }
  EXPECT_LE(after.resident, base.resident + (peak.resident - base.resident) / 10)
      << "base " << base.resident << " peak " << peak.resident;
}

}  // namespace
}  // namespace brkmalloc
