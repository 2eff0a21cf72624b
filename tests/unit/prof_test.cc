// The heap profiler's parts that need no running profiler: its libm-free arithmetic (against libm), its
// tables (insert, replace, backward-shift removal, growth, stack interning) and its settings.
#include <math.h>
#include <string.h>

#include <map>
#include <random>

#include <gtest/gtest.h>

#include "allocator/options.h"
#include "allocator/prof_math.h"
#include "allocator/prof_table.h"

using namespace brkmalloc;

TEST(ProfMath, NegLogMatchesLibm) {
  for (double u : {1.0, 0.999999, 0.75, 0.5, 0.1, 1e-3, 1e-9, 1.0 / 9007199254740992.0})
    EXPECT_NEAR(prof_neg_log(u), -log(u), 1e-9 * (1 - log(u))) << u;
}

TEST(ProfMath, OneMinusExpNegMatchesLibm) {
  for (double x : {0.0, 1e-9, 1e-4, 0.01, 0.3, 0.5, 1.0, 3.0, 20.0, 700.0, 1e6})
    EXPECT_NEAR(prof_one_minus_exp_neg(x), -expm1(-x), 1e-12 + 1e-9 * -expm1(-x)) << x;
}

TEST(ProfTable, SamplesInsertReplaceRemoveGrow) {
  LockGuard g(g_prof_lock);
  std::map<uintptr_t, uint64_t> model;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    uintptr_t a = (rng() % 30000 + 1) * 4096;
    ProfSample old;
    if (rng() % 3) {
      ASSERT_TRUE(prof_sample_insert(ProfSample{a, 0, uint64_t(i), 1.0}, &old));
      EXPECT_EQ(old.addr != 0, model.count(a) == 1);
      if (old.addr) EXPECT_EQ(old.size, model[a]);
      model[a] = uint64_t(i);
    } else {
      bool had = prof_sample_remove(a, &old);
      EXPECT_EQ(had, model.erase(a) == 1);
    }
  }
  for (auto& [a, size] : model) {
    EXPECT_TRUE(prof_sample_contains(a));
    ProfSample s;
    ASSERT_TRUE(prof_sample_remove(a, &s));
    EXPECT_EQ(s.size, size);
  }
  EXPECT_FALSE(prof_sample_contains(4096));
}

TEST(ProfTable, StacksAreInternedOnce) {
  LockGuard g(g_prof_lock);
  uint32_t before = prof_stack_count();
  uintptr_t f[3] = {0x1000, 0x2000, 0x3000};
  uint32_t a = prof_stack_intern(f, 3), b = prof_stack_intern(f, 2);
  f[2] = 0x3001;
  uint32_t c = prof_stack_intern(f, 3);
  f[2] = 0x3000;
  EXPECT_EQ(prof_stack_intern(f, 3), a);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(prof_stack_count(), before + 3);
  EXPECT_EQ(prof_stack_at(a)->depth, 3u);
  for (uintptr_t i = 0; i < 5000; ++i) {  // growth keeps every stack findable
    uintptr_t g2[2] = {i, i * 7};
    prof_stack_intern(g2, 2);
  }
  EXPECT_EQ(prof_stack_intern(f, 3), a);
}

TEST(ProfOptions, SettingsParse) {
  const char* env[] = {"BRKMALLOC_PROFILE=/tmp/p", "BRKMALLOC_PROFILE_RATE=64K", "BRKMALLOC_PROFILE_SIGNAL=12",
                       "BRKMALLOC_PROFILE_INTERVAL=0", "BRKMALLOC_LEAKS=1", nullptr};
  Options o;
  options_parse(env, false, &o, -1);
  EXPECT_STREQ(o.profile_prefix, "/tmp/p");
  EXPECT_EQ(o.profile_rate, size_t{64} << 10);
  EXPECT_EQ(o.profile_signal, 12);
  EXPECT_EQ(o.profile_interval, 0u);
  EXPECT_STREQ(o.leaks, "1");
  const char* bad[] = {"BRKMALLOC_PROFILE_RATE=0", "BRKMALLOC_PROFILE_SIGNAL=9", "BRKMALLOC_LEAKS=0", nullptr};
  Options d;
  options_parse(bad, false, &d, -1);
  EXPECT_EQ(d.profile_rate, size_t{512} << 10);
  EXPECT_EQ(d.profile_signal, 0);
  EXPECT_STREQ(d.leaks, "");
}
