// Settings (allocator/options.h) at unit level: parse_size's accepted forms and its refusals. (The
// environment parsing and its warnings are checked end to end by the misuse programs.)
#include "allocator/options.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

namespace brkmalloc {
namespace {

testing::AssertionResult parses_to(const char* s, size_t want) {
  size_t got = 12345;
  if (!parse_size(s, &got)) return testing::AssertionFailure() << '"' << s << "\" refused";
  if (got != want) return testing::AssertionFailure() << '"' << s << "\" gave " << got << ", want " << want;
  return testing::AssertionSuccess();
}

testing::AssertionResult refused(const char* s) {
  const size_t sentinel = 0x5eed;
  size_t got = sentinel;
  if (parse_size(s, &got)) return testing::AssertionFailure() << '"' << s << "\" accepted as " << got;
  if (got != sentinel) return testing::AssertionFailure() << '"' << s << "\" refused but wrote " << got;
  return testing::AssertionSuccess();
}

TEST(ParseSize, PlainNumbers) {
  EXPECT_TRUE(parses_to("0", 0));
  EXPECT_TRUE(parses_to("123", 123));
  EXPECT_TRUE(parses_to("000123", 123));
  EXPECT_TRUE(parses_to("1048576", size_t{1} << 20));
  EXPECT_TRUE(parses_to(std::to_string(~size_t{0} / 10).c_str(), ~size_t{0} / 10));
}

// Values up to the largest size_t do not overflow, so they are accepted.
TEST(ParseSize, LargestValuesAccepted) {
  EXPECT_TRUE(parses_to("18446744073709551615", ~size_t{0}));
  EXPECT_TRUE(parses_to("18446744073709551610", ~size_t{0} - 5));
  EXPECT_TRUE(parses_to("18446744073709551609", ~size_t{0} - 6));
}

TEST(ParseSize, SuffixesInEitherCase) {
  EXPECT_TRUE(parses_to("64K", size_t{64} << 10));
  EXPECT_TRUE(parses_to("64k", size_t{64} << 10));
  EXPECT_TRUE(parses_to("1m", size_t{1} << 20));
  EXPECT_TRUE(parses_to("1M", size_t{1} << 20));
  EXPECT_TRUE(parses_to("2G", size_t{2} << 30));
  EXPECT_TRUE(parses_to("2g", size_t{2} << 30));
  EXPECT_TRUE(parses_to("0K", 0));
  // The largest multiple of 1 GiB that fits.
  const size_t max_g = ~size_t{0} >> 30;
  EXPECT_TRUE(parses_to(std::to_string(max_g).append("G").c_str(), max_g << 30));
}

TEST(ParseSize, Refusals) {
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused("abc"));
  EXPECT_TRUE(refused("-5"));
  EXPECT_TRUE(refused("+5"));
  EXPECT_TRUE(refused(" 5"));
  EXPECT_TRUE(refused("5 "));
  EXPECT_TRUE(refused("1.5M"));
  EXPECT_TRUE(refused("0x10"));
  EXPECT_TRUE(refused("K"));
  EXPECT_TRUE(refused("1T"));
  EXPECT_TRUE(refused("1KB"));
  EXPECT_TRUE(refused("1KK"));
  EXPECT_TRUE(refused("12a3"));
}

TEST(ParseSize, OverflowIsRefused) {
  EXPECT_TRUE(refused("99999999999999999999"));
  EXPECT_TRUE(refused("18446744073709551616"));  // the largest size_t plus one
  const size_t max_g = ~size_t{0} >> 30;
  EXPECT_TRUE(refused(std::to_string(max_g + 1).append("G").c_str()));
  EXPECT_TRUE(refused(std::to_string((~size_t{0} >> 10) + 1).append("K").c_str()));
  EXPECT_TRUE(refused(std::string(40, '9').c_str()));  // longer than any size
}

TEST(Options, DefaultsWithoutEnvironment) {
  // Under bazel test no BRKMALLOC_* variable is set; then the documented defaults hold.
  for (const char* name : {"BRKMALLOC_MMAP_THRESHOLD", "BRKMALLOC_PURGE_DELAY_MS", "BRKMALLOC_STATS"})
    ASSERT_EQ(getenv(name), nullptr) << name << " is set in the test environment";
  options_init();
  options_init();  // idempotent
  EXPECT_EQ(g_options.mmap_threshold, kDefaultMmapThreshold);
  EXPECT_EQ(g_options.purge_delay_ms, 1000u);
  EXPECT_FALSE(g_options.print_stats);
}

}  // namespace
}  // namespace brkmalloc
