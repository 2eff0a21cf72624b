// Fragmentation statistics (stats.h ClassStats, malloc_stats' "free in spans" lines) against a heap whose
// layout the test builds: one span of a class full with an eighth free, one moved to avail with half free,
// the current one with a few free, and a few of its blocks on another thread's foreign list. Every
// expected figure comes from the class table (capacity), none is typed in.
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "allocator/brkmalloc.h"
#include "allocator/heap.h"
#include "allocator/size_classes.h"
#include "allocator/stats.h"

using namespace brkmalloc;

namespace {

// A size no test harness allocates (classes are 32 bytes apart here), so the class's figures move only
// by what the test does.
constexpr size_t kSize = 340;

struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  int step = 0;
  void advance() {
    std::lock_guard<std::mutex> l(mu);
    ++step;
    cv.notify_all();
  }
  void wait_for(int s) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return step >= s; });
  }
};

ClassStats class_stats(unsigned cls) {
  brk_stats st;
  ClassStats pc[kNumClasses];
  stats_collect(&st, pc);
  return pc[cls];
}

TEST(StatsLayout, FreeBytesPerSpanStateAndForeignLists) {
  const unsigned cls = size_to_class(kSize);
  const size_t cap = kClasses.info[cls].capacity;
  ASSERT_GE(cap, 32u) << "the layout needs spans of many blocks";
  const ClassStats base = class_stats(cls);

  std::vector<void*> blocks;
  Gate gate;
  std::thread owner([&] {
    for (size_t i = 0; i < 3 * cap; ++i) blocks.push_back(brk_malloc(kSize));  // spans A, B full; C current, exhausted
    for (size_t i = 0; i < cap / 8; ++i) brk_free(blocks[i]);              // A: below the reuse quota, stays full
    for (size_t i = 0; i < cap / 2; ++i) brk_free(blocks[cap + i]);        // B: past the quota, to avail
    for (size_t i = 0; i < 3; ++i) brk_free(blocks[2 * cap + i]);          // C: current, 3 free
    gate.advance();  // 1
    gate.wait_for(3);
  });
  gate.wait_for(1);
  std::thread other([&] {
    brk_free(brk_malloc(64));  // a heap of its own
    for (size_t i = 3; i < 8; ++i) brk_free(blocks[2 * cap + i]);  // onto this thread's foreign list
    gate.advance();  // 2
    gate.wait_for(3);
  });
  gate.wait_for(2);
  const ClassStats now = class_stats(cls);
  std::string report;
  {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    brk_print_stats(fds[1]);
    close(fds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) report.append(buf, size_t(n));
    close(fds[0]);
  }
  gate.advance();  // 3
  owner.join();
  other.join();

  EXPECT_EQ(now.state_spans[kStateFull] - base.state_spans[kStateFull], 1u);
  EXPECT_EQ(now.state_spans[kStateAvail] - base.state_spans[kStateAvail], 1u);
  EXPECT_EQ(now.state_spans[kStateCurrent] - base.state_spans[kStateCurrent], 1u);
  EXPECT_EQ(now.state_free[kStateFull] - base.state_free[kStateFull], cap / 8);
  EXPECT_EQ(now.state_free[kStateAvail] - base.state_free[kStateAvail], cap / 2);
  EXPECT_EQ(now.state_free[kStateCurrent] - base.state_free[kStateCurrent], 3u);
  EXPECT_EQ(now.cached - base.cached, 5u);
  EXPECT_EQ(now.blocks_used - base.blocks_used, 3 * cap - cap / 8 - cap / 2 - 3);
  // The report's line for the class shows the same bytes.
  const size_t sz = class_size(cls);
  std::string line = "\t" + std::to_string(now.state_free[kStateCurrent] * sz) + " " +
                     std::to_string(now.state_free[kStateAvail] * sz) + " " +
                     std::to_string(now.state_free[kStateFull] * sz) + " (";
  EXPECT_NE(report.find(line), std::string::npos) << report;
  EXPECT_NE(report.find("free in spans"), std::string::npos);
  for (size_t i = 0; i < 3 * cap; ++i) {
    bool freed = i < cap / 8 || (i >= cap && i < cap + cap / 2) || (i >= 2 * cap && i < 2 * cap + 8);
    if (!freed) brk_free(blocks[i]);
  }
}

}  // namespace
