// Misuse that brkmalloc reports and aborts on, each checked for its exact one-line message with the exact
// address. Death tests run in the "threadsafe" style: the child re-executes this binary, so its blocks
// are at other addresses than the parent's. The child therefore announces the address it is about to
// misuse ("subject 0x..." on stderr) and the matcher checks that the next line is exactly the report for
// that address. (Tagged no_tsan: forking death tests are unreliable under ThreadSanitizer.)
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "allocator/brkmalloc.h"
#include "allocator/page_map.h"
#include "allocator/size_classes.h"
#include "tests/unit/unit_util.h"

namespace {

const bool kThreadsafe = [] {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  return true;
}();

// Tells the parent which address the child misuses.
void announce(const void* p) {
  std::string line = "subject " + unit::hex_addr(p) + "\n";
  (void)!write(2, line.data(), line.size());
}

// stderr holds "subject <A>\n" and right after it exactly "brkmalloc: <what> <A><tail>\n".
class Report : public testing::MatcherInterface<const std::string&> {
 public:
  Report(std::string what, std::string tail) : what_(std::move(what)), tail_(std::move(tail)) {}
  bool MatchAndExplain(const std::string& err, testing::MatchResultListener* l) const override {
    size_t at = err.find("subject 0x");
    if (at == std::string::npos) {
      *l << "the child never announced its address";
      return false;
    }
    size_t eol = err.find('\n', at);
    if (eol == std::string::npos) return false;
    std::string addr = err.substr(at + 8, eol - at - 8);
    std::string want = "brkmalloc: " + what_ + " " + addr + tail_ + "\n";
    if (err.compare(eol + 1, want.size(), want) != 0) {
      *l << "expected the next line to be \"" << want.substr(0, want.size() - 1) << "\"";
      return false;
    }
    return true;
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "reports \"brkmalloc: " << what_ << " <address>" << tail_ << "\"";
  }

 private:
  std::string what_, tail_;
};
testing::Matcher<const std::string&> reports(const char* what, std::string tail = "") {
  return testing::MakeMatcher(new Report(what, std::move(tail)));
}

int g_global[64];

TEST(ErrorsDeathTest, DoubleFreeSmall) {
  void* p = brk_malloc(64);
  brk_free(p);
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("double free of"));
}

TEST(ErrorsDeathTest, DoubleFreeSmallAfterOtherActivity) {
  // The freed block is no longer at the head of its span's free list.
  void* p = brk_malloc(200);
  brk_free(p);
  std::vector<void*> v;
  for (int i = 0; i < 3; ++i) v.push_back(brk_malloc(64));
  void* q = brk_malloc(300);
  brk_free(q);
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("double free of"));
  for (void* b : v) brk_free(b);
}

TEST(ErrorsDeathTest, DoubleFreeFromAnotherThread) {
  // Thread A allocates; the main thread frees twice: the second free finds the block pending on its span's remote list.
  void* p = nullptr;
  std::thread([&] { p = brk_malloc(80); }).join();
  brk_free(p);
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("double free of"));
}

TEST(ErrorsDeathTest, DoubleFreeAfterTheSpanWentBack) {
  // All blocks of a span that is not current freed: the span's pages return to the arena; a second free
  // of one of them must still be reported as a double free.
  const size_t size = 4096;
  const unsigned cls = brkmalloc::size_to_class(size);
  std::vector<void*> v;
  for (size_t i = 0; i < 2 * brkmalloc::kClasses.info[cls].capacity + 1; ++i) v.push_back(brk_malloc(size));
  void* p = v[0];
  brkmalloc::Span* first = brkmalloc::page_map_lookup(p);
  for (void* b : v)
    if (brkmalloc::page_map_lookup(b) == first) brk_free(b);
  ASSERT_EQ(brkmalloc::page_map_lookup(p)->kind, brkmalloc::kFree) << "premise: the span went back to the arena";
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("double free of"));
}

TEST(ErrorsDeathTest, DoubleFreeLarge) {
  void* p = brk_malloc(brk_mmap_threshold() * 4);
  brk_free(p);
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("double free of"));
}

TEST(ErrorsDeathTest, FreeOfStackAddress) {
  char buf[64];
  void* p = buf;
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("free of invalid pointer"));
}

TEST(ErrorsDeathTest, FreeOfGlobal) {
  void* p = g_global;
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("free of invalid pointer"));
}

TEST(ErrorsDeathTest, FreeOfInteriorSmall) {
  char* b = static_cast<char*>(brk_malloc(64));
  void* p = b + 16;  // 16-aligned, inside the block
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("free of invalid pointer"));
  brk_free(b);
}

TEST(ErrorsDeathTest, FreeOfMisalignedSmall) {
  char* b = static_cast<char*>(brk_malloc(64));
  void* p = b + 8;
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("free of invalid pointer"));
  brk_free(b);
}

TEST(ErrorsDeathTest, FreeOfInteriorLarge) {
  char* b = static_cast<char*>(brk_malloc(size_t{1} << 20));
  void* p = b + (64 << 10);  // page-aligned, inside the block
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("free of invalid pointer"));
  brk_free(b);
}

TEST(ErrorsDeathTest, FreeOfNonCanonicalAliasOfALiveBlock) {
  char* b = static_cast<char*>(brk_malloc(64));
  void* p = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(b) | (uintptr_t{1} << 63));
  EXPECT_DEATH({ announce(p); brk_free(p); }, reports("free of invalid pointer"));
  brk_free(b);
}

TEST(ErrorsDeathTest, ReallocOfInvalidPointer) {
  char buf[64];
  void* stack = buf;
  EXPECT_DEATH({ announce(stack); (void)!brk_realloc(stack, 100); }, reports("realloc of invalid pointer"));
  char* b = static_cast<char*>(brk_malloc(64));
  void* interior = b + 32;
  EXPECT_DEATH({ announce(interior); (void)!brk_realloc(interior, 100); }, reports("realloc of invalid pointer"));
  void* freed = brk_malloc(64);
  brk_free(freed);
  EXPECT_DEATH({ announce(freed); (void)!brk_realloc(freed, 100); }, reports("realloc of invalid pointer"));
  brk_free(b);
}

TEST(ErrorsDeathTest, UsableSizeOfInvalidPointer) {
  void* p = g_global;
  EXPECT_DEATH({ announce(p); (void)!brk_usable_size(p); }, reports("malloc_usable_size of invalid pointer"));
  void* freed = brk_malloc(64);
  brk_free(freed);
  EXPECT_DEATH({ announce(freed); (void)!brk_usable_size(freed); },
               reports("malloc_usable_size of invalid pointer"));
}

TEST(ErrorsDeathTest, FreeSizedWithWrongSize) {
  void* p = brk_malloc(100);
  EXPECT_DEATH({ announce(p); brk_free_sized(p, 1000); }, reports("sized free of", " with wrong size 1000"));
  EXPECT_DEATH({ announce(p); brk_free_sized(p, 10); }, reports("sized free of", " with wrong size 10"));
  brk_free_sized(p, 100);  // the right size is accepted
  const size_t t = brk_mmap_threshold();
  void* l = brk_malloc(4 * t);
  const std::string small = std::to_string(t + 1);
  EXPECT_DEATH({ announce(l); brk_free_sized(l, t + 1); }, reports("sized free of", " with wrong size " + small));
  brk_free_sized(l, 4 * t);
}

TEST(ErrorsDeathTest, FreeListCorruptionUnderFullChecks) {
  // With BRKMALLOC_CHECKS=full, a write through a dangling pointer into a freed block's link is caught
  // when that block is popped. The mode is read at start-up, so the child is a fresh process ("threadsafe"
  // death tests re-execute the binary) started with the setting.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("BRKMALLOC_CHECKS", "full", 1);
  void* p = brk_malloc(64);
  brk_free(p);
  EXPECT_DEATH(
      {
        announce(p);
        *static_cast<volatile uintptr_t*>(p) = 0x4141414141414141ull;
        for (int i = 0; i < 100000; ++i) (void)!brk_malloc(64);
      },
      reports("free list corrupted at"));
  unsetenv("BRKMALLOC_CHECKS");
}

}  // namespace
