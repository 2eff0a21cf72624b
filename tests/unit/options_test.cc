// Settings (allocator/options.h) at unit level: parse_size's and parse_glibc_number's accepted forms and
// refusals; options_parse on made-up environments (each glibc and BRKMALLOC_* setting, their precedence,
// malformed values reported once and ignored, secure mode); options_mallopt's answers against glibc's own
// mallopt. (The process environment is checked end to end by the misuse and install runners.)
#include "allocator/brkmalloc.h"
#include "allocator/options.h"
#include "allocator/os.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <initializer_list>
#include <thread>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

// ---- parse_glibc_number: glibc's tunable number forms ----

TEST(ParseGlibcNumber, DecimalHexOctal) {
  uint64_t v = 0;
  ASSERT_TRUE(parse_glibc_number("1048576", &v));
  EXPECT_EQ(v, uint64_t{1} << 20);
  ASSERT_TRUE(parse_glibc_number("0x100000", &v));
  EXPECT_EQ(v, uint64_t{1} << 20);
  ASSERT_TRUE(parse_glibc_number("0XfF", &v));
  EXPECT_EQ(v, 255u);
  ASSERT_TRUE(parse_glibc_number("010", &v));
  EXPECT_EQ(v, 8u);
  ASSERT_TRUE(parse_glibc_number("0", &v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(parse_glibc_number("18446744073709551615", &v));
  EXPECT_EQ(v, ~uint64_t{0});
}

// As glibc's _dl_strtoul: blanks and a sign before the number, saturation on overflow.
TEST(ParseGlibcNumber, SignsBlanksAndOverflow) {
  uint64_t v = 0;
  ASSERT_TRUE(parse_glibc_number("  \t300000", &v));
  EXPECT_EQ(v, 300000u);
  ASSERT_TRUE(parse_glibc_number("+300000", &v));
  EXPECT_EQ(v, 300000u);
  ASSERT_TRUE(parse_glibc_number("-1", &v));
  EXPECT_EQ(v, ~uint64_t{0});
  ASSERT_TRUE(parse_glibc_number("-0x10", &v));
  EXPECT_EQ(v, uint64_t(0) - 16);
  ASSERT_TRUE(parse_glibc_number("18446744073709551616", &v));
  EXPECT_EQ(v, ~uint64_t{0});
  ASSERT_TRUE(parse_glibc_number("0x10000000000000000", &v));
  EXPECT_EQ(v, ~uint64_t{0});
}

TEST(ParseGlibcNumber, Refusals) {
  for (const char* s : {"", "abc", "-", "+", "1M", "64K", "0x", "0xg", "09", "12abc", "1 ", "x1", "1.5"}) {
    uint64_t v = 0x5eed;
    EXPECT_FALSE(parse_glibc_number(s, &v)) << '"' << s << '"';
    EXPECT_EQ(v, 0x5eedu) << '"' << s << "\" refused but wrote";
  }
}

// ---- options_parse on made-up environments ----

struct Parsed {
  Options o;
  std::string warnings;
  int warning_lines() const { return int(std::count(warnings.begin(), warnings.end(), '\n')); }
};

Parsed parse(std::initializer_list<const char*> vars, bool secure = false) {
  std::vector<const char*> env(vars);
  env.push_back(nullptr);
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_NONBLOCK), 0);
  Parsed p;
  options_parse(env.data(), secure, &p.o, fds[1]);
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) p.warnings.append(buf, size_t(n));
  close(fds[0]);
  return p;
}

const Options kDefaults;

TEST(OptionsParse, NothingSetKeepsDefaults) {
  Parsed p = parse({"PATH=/bin", "MALLOC_FOO_=1", "GLIBC_TUNABLES=glibc.rtld.nns=2"});
  EXPECT_EQ(p.o.mmap_threshold, kDefaults.mmap_threshold);
  EXPECT_FALSE(p.o.threshold_fixed);
  EXPECT_FALSE(p.o.trim_set);
  EXPECT_EQ(p.o.top_pad, kDefaults.top_pad);
  EXPECT_EQ(p.o.mmap_max, kDefaults.mmap_max);
  EXPECT_EQ(p.o.perturb, 0);
  EXPECT_FALSE(p.o.full_checks);
  EXPECT_FALSE(p.o.hugepages);
  EXPECT_EQ(p.warnings, "");
}

TEST(OptionsParse, GlibcVariables) {
  Parsed p = parse({"MALLOC_MMAP_THRESHOLD_=1048576", "MALLOC_TRIM_THRESHOLD_=0x200000", "MALLOC_TOP_PAD_=65536",
                    "MALLOC_MMAP_MAX_=7", "MALLOC_PERTURB_=165", "MALLOC_CHECK_=3", "MALLOC_ARENA_MAX=2",
                    "MALLOC_ARENA_TEST=4"});
  EXPECT_EQ(p.warnings, "");
  EXPECT_EQ(p.o.mmap_threshold, size_t{1} << 20);
  EXPECT_TRUE(p.o.threshold_fixed);
  EXPECT_TRUE(p.o.trim_set);
  EXPECT_EQ(p.o.trim_threshold, size_t{2} << 20);
  EXPECT_EQ(p.o.top_pad, size_t{64} << 10);
  EXPECT_EQ(p.o.mmap_max, 7);
  EXPECT_EQ(p.o.perturb, 165);
  EXPECT_TRUE(p.o.full_checks);
}

// As glibc's do_set_* functions: trim threshold, top pad and mmap max each stop the dynamic threshold.
TEST(OptionsParse, EachGlibcSizeKnobFixesTheThreshold) {
  for (const char* var : {"MALLOC_TRIM_THRESHOLD_=1", "MALLOC_TOP_PAD_=1", "MALLOC_MMAP_MAX_=1",
                          "MALLOC_MMAP_THRESHOLD_=131072", "GLIBC_TUNABLES=glibc.malloc.top_pad=0"}) {
    Parsed p = parse({var});
    EXPECT_TRUE(p.o.threshold_fixed) << var;
    EXPECT_EQ(p.o.mmap_threshold, kDefaults.mmap_threshold) << var;
  }
  for (const char* var : {"MALLOC_PERTURB_=1", "MALLOC_CHECK_=1", "MALLOC_ARENA_MAX=1"})
    EXPECT_FALSE(parse({var}).o.threshold_fixed) << var;
}

// glibc 2.36 takes any threshold; one above our largest is that one (ours, BRKMALLOC_*, refuses it).
TEST(OptionsParse, GlibcThresholdAboveOursIsOurs) {
  for (const std::string& var : {"MALLOC_MMAP_THRESHOLD_=" + std::to_string(kMaxMmapThreshold + 1),
                                std::string("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=0xffffffffffffffff")}) {
    Parsed p = parse({var.c_str()});
    EXPECT_EQ(p.warnings, "") << var;
    EXPECT_EQ(p.o.mmap_threshold, kMaxMmapThreshold) << var;
  }
}

TEST(OptionsParse, MmapMaxZeroMeansNoOwnMapping) {
  Parsed p = parse({"MALLOC_MMAP_MAX_=0", "MALLOC_MMAP_THRESHOLD_=4096"});
  EXPECT_EQ(p.o.mmap_max, 0);
  EXPECT_EQ(p.o.mmap_threshold, kMaxMmapThreshold);
  EXPECT_EQ(parse({"GLIBC_TUNABLES=glibc.malloc.mmap_max=0"}).o.mmap_threshold, kMaxMmapThreshold);
}

TEST(OptionsParse, Tunables) {
  Parsed p = parse({"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=4096:"
                    "glibc.malloc.top_pad=8192:glibc.malloc.mmap_max=3:glibc.malloc.perturb=0x5a:"
                    "glibc.malloc.check=1:glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1:"
                    "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0:glibc.malloc.whatever=zz:glibc.cpu.x=1"});
  EXPECT_EQ(p.warnings, "");
  EXPECT_EQ(p.o.mmap_threshold, size_t{64} << 10);
  EXPECT_TRUE(p.o.threshold_fixed);
  EXPECT_EQ(p.o.trim_threshold, 4096u);
  EXPECT_EQ(p.o.top_pad, 8192u);
  EXPECT_EQ(p.o.mmap_max, 3);
  EXPECT_EQ(p.o.perturb, 0x5a);
  EXPECT_TRUE(p.o.full_checks);
  EXPECT_TRUE(p.o.hugepages);
  // glibc.malloc.hugetlb=2 (hugetlbfs pages in glibc) asks for huge pages too; 0 turns them off.
  EXPECT_TRUE(parse({"GLIBC_TUNABLES=glibc.malloc.hugetlb=2"}).o.hugepages);
  EXPECT_FALSE(parse({"GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0"}).o.hugepages);
  EXPECT_TRUE(parse({"BRKMALLOC_HUGEPAGES=1", "GLIBC_TUNABLES=glibc.malloc.hugetlb=0"}).o.hugepages);
  EXPECT_TRUE(parse({"BRKMALLOC_HUGEPAGES=1"}).o.hugepages);
}

// glibc: tunables over the older variables, whichever comes first in the environment; later tunables
// entries over earlier ones. Ours over both.
TEST(OptionsParse, Precedence) {
  EXPECT_EQ(parse({"MALLOC_PERTURB_=1", "GLIBC_TUNABLES=glibc.malloc.perturb=2"}).o.perturb, 2);
  EXPECT_EQ(parse({"GLIBC_TUNABLES=glibc.malloc.perturb=2", "MALLOC_PERTURB_=1"}).o.perturb, 2);
  EXPECT_EQ(parse({"GLIBC_TUNABLES=glibc.malloc.perturb=2:glibc.malloc.perturb=3"}).o.perturb, 3);
  const size_t ours = size_t{96} << 10;
  for (auto order : {0, 1}) {
    const char* a = "BRKMALLOC_MMAP_THRESHOLD=96K";
    const char* b = "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4096";
    const char* c = "MALLOC_MMAP_THRESHOLD_=8192";
    Parsed p = order ? parse({a, b, c}) : parse({c, b, a});
    EXPECT_EQ(p.o.mmap_threshold, ours);
  }
  EXPECT_FALSE(parse({"GLIBC_TUNABLES=glibc.malloc.check=3", "BRKMALLOC_CHECKS=default"}).o.full_checks);
  EXPECT_TRUE(parse({"MALLOC_CHECK_=0", "BRKMALLOC_CHECKS=full"}).o.full_checks);
  // hardened (which implies the full checks at start-up, runtime.cc) and the later setting wins.
  EXPECT_TRUE(parse({"BRKMALLOC_CHECKS=hardened"}).o.hardened);
  EXPECT_FALSE(parse({"BRKMALLOC_CHECKS=hardened", "BRKMALLOC_CHECKS=default"}).o.hardened);
  EXPECT_FALSE(parse({"BRKMALLOC_CHECKS=hardened", "BRKMALLOC_CHECKS=full"}).o.hardened);
  EXPECT_TRUE(parse({"GLIBC_TUNABLES=glibc.malloc.check=3", "BRKMALLOC_CHECKS=hardened"}).o.hardened);
  Parsed bad = parse({"BRKMALLOC_CHECKS=hardened", "BRKMALLOC_CHECKS=paranoid"});
  EXPECT_TRUE(bad.o.hardened);
  EXPECT_EQ(bad.warnings, "brkmalloc: ignoring BRKMALLOC_CHECKS=paranoid (not default, full or hardened); keeping hardened\n");
}

// A malformed or out-of-range value: one line naming it, and the setting keeps its earlier value.
TEST(OptionsParse, MalformedReportedOnceAndIgnored) {
  struct Case { const char* var; const char* shown; };
  const std::string above_max_ours = "BRKMALLOC_MMAP_THRESHOLD=" + std::to_string(kMaxMmapThreshold + 1);
  for (Case c : std::initializer_list<Case>{
           {"MALLOC_PERTURB_=256", "MALLOC_PERTURB_=256"},
           {"MALLOC_PERTURB_=-1", "MALLOC_PERTURB_=-1"},
           {"MALLOC_TOP_PAD_=1M", "MALLOC_TOP_PAD_=1M"},
           {"MALLOC_TRIM_THRESHOLD_=12abc", "MALLOC_TRIM_THRESHOLD_=12abc"},
           {"MALLOC_MMAP_MAX_=2147483648", "MALLOC_MMAP_MAX_=2147483648"},
           {"MALLOC_CHECK_=4", "MALLOC_CHECK_=4"},
           {"MALLOC_ARENA_MAX=0", "MALLOC_ARENA_MAX=0"},
           {above_max_ours.c_str(), above_max_ours.c_str()},
           {"GLIBC_TUNABLES=glibc.malloc.perturb=300", "GLIBC_TUNABLES entry glibc.malloc.perturb=300"},
           {"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=", "GLIBC_TUNABLES entry glibc.malloc.mmap_threshold="},
           {"BRKMALLOC_HUGEPAGES=yes", "BRKMALLOC_HUGEPAGES=yes"},
       }) {
    Parsed p = parse({c.var});
    EXPECT_EQ(p.warning_lines(), 1) << c.var << ": " << p.warnings;
    EXPECT_EQ(p.warnings.rfind(std::string("brkmalloc: ignoring ") + c.shown + " (", 0), 0u) << p.warnings;
    EXPECT_EQ(p.o.perturb, 0) << c.var;
    EXPECT_EQ(p.o.top_pad, kDefaults.top_pad) << c.var;
    EXPECT_FALSE(p.o.trim_set) << c.var;
    EXPECT_EQ(p.o.mmap_max, kDefaults.mmap_max) << c.var;
    EXPECT_EQ(p.o.mmap_threshold, kDefaults.mmap_threshold) << c.var;
    EXPECT_FALSE(p.o.threshold_fixed) << c.var;
    EXPECT_FALSE(p.o.full_checks) << c.var;
    EXPECT_FALSE(p.o.hugepages) << c.var;
  }
  // A bad value does not undo a good earlier one.
  Parsed p = parse({"MALLOC_PERTURB_=7", "GLIBC_TUNABLES=glibc.malloc.perturb=x"});
  EXPECT_EQ(p.o.perturb, 7);
  EXPECT_NE(p.warnings.find("keeping 7"), std::string::npos) << p.warnings;
}

// Secure mode (AT_SECURE): nothing is read and nothing reported.
TEST(OptionsParse, SecureModeReadsNothing) {
  Parsed p = parse({"BRKMALLOC_STATS=1", "BRKMALLOC_MMAP_THRESHOLD=4096", "BRKMALLOC_CHECKS=full",
                    "BRKMALLOC_NOPE=1", "MALLOC_PERTURB_=9", "MALLOC_MMAP_MAX_=0",
                    "GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.perturb=bad"},
                   /*secure=*/true);
  EXPECT_EQ(p.warnings, "");
  EXPECT_FALSE(p.o.print_stats);
  EXPECT_EQ(p.o.mmap_threshold, kDefaults.mmap_threshold);
  EXPECT_FALSE(p.o.threshold_fixed);
  EXPECT_FALSE(p.o.full_checks);
  EXPECT_EQ(p.o.perturb, 0);
  EXPECT_EQ(p.o.mmap_max, kDefaults.mmap_max);
  EXPECT_FALSE(p.o.hugepages);
}

// ---- options_mallopt: glibc's own mallopt is the oracle ----

// libc's mallopt itself (a sanitizer's interceptor of the name would answer differently).
int glibc_mallopt(int param, int value) {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  if (!libc) return -1;
  auto fn = reinterpret_cast<int (*)(int, int)>(dlsym(libc, "mallopt"));
  dlclose(libc);
  return fn ? fn(param, value) : -1;
}

TEST(Mallopt, SameAnswersAsGlibc) {
  const int max = int(kMaxMmapThreshold);
  struct Call { int param, value; };
  for (Call c : std::initializer_list<Call>{
           {M_MXFAST, 0}, {M_MXFAST, 64}, {M_MXFAST, 160}, {M_MXFAST, 161}, {M_MXFAST, 1000}, {M_MXFAST, -1},
           {M_TRIM_THRESHOLD, 0}, {M_TRIM_THRESHOLD, 1 << 20}, {M_TRIM_THRESHOLD, -1},
           {M_TOP_PAD, 0}, {M_TOP_PAD, 1 << 16}, {M_TOP_PAD, -1},
           {M_MMAP_THRESHOLD, 0}, {M_MMAP_THRESHOLD, 4096}, {M_MMAP_THRESHOLD, max}, {M_MMAP_THRESHOLD, -1},
           {M_MMAP_THRESHOLD, 64 << 20}, {M_MMAP_THRESHOLD, 1 << 30},
           {M_MMAP_MAX, 0}, {M_MMAP_MAX, 65536}, {M_MMAP_MAX, -1},
           {M_CHECK_ACTION, 0}, {M_CHECK_ACTION, 3}, {M_PERTURB, 0}, {M_PERTURB, 0xa5}, {M_PERTURB, 0},
           {M_ARENA_TEST, 0}, {M_ARENA_TEST, 8}, {M_ARENA_TEST, -1}, {M_ARENA_MAX, 0}, {M_ARENA_MAX, 2},
           {M_ARENA_MAX, -5}, {12345, 1}, {-100, 7},
       }) {
    EXPECT_EQ(options_mallopt(c.param, c.value), glibc_mallopt(c.param, c.value))
        << "mallopt(" << c.param << ", " << c.value << ")";
  }
  glibc_mallopt(M_MMAP_MAX, 65536);  // leave glibc's malloc, which gtest uses, as it was
}

TEST(Mallopt, ChangesTheSettings) {
  ASSERT_EQ(options_mallopt(M_MMAP_MAX, 65536), 1);
  ASSERT_EQ(options_mallopt(M_MMAP_THRESHOLD, 8192), 1);
  EXPECT_EQ(mmap_threshold(), 8192u);
  EXPECT_TRUE(g_options.threshold_fixed);
  ASSERT_EQ(options_mallopt(M_MMAP_MAX, 0), 1);
  EXPECT_EQ(mmap_threshold(), kMaxMmapThreshold);
  // While mmap_max is 0 a threshold is accepted but no block gets its own mapping.
  ASSERT_EQ(options_mallopt(M_MMAP_THRESHOLD, 8192), 1);
  EXPECT_EQ(mmap_threshold(), kMaxMmapThreshold);
  ASSERT_EQ(options_mallopt(M_MMAP_MAX, 65536), 1);
  // glibc takes any threshold; above our largest one means that one.
  ASSERT_EQ(options_mallopt(M_MMAP_THRESHOLD, -1), 1);
  EXPECT_EQ(mmap_threshold(), kMaxMmapThreshold);
  ASSERT_EQ(options_mallopt(M_MMAP_THRESHOLD, kDefaultMmapThreshold), 1);
  EXPECT_EQ(mmap_threshold(), kDefaultMmapThreshold);
  ASSERT_EQ(options_mallopt(M_TRIM_THRESHOLD, -1), 1);
  EXPECT_TRUE(g_options.trim_set);
  EXPECT_EQ(g_options.trim_threshold, ~size_t{0});
  ASSERT_EQ(options_mallopt(M_TOP_PAD, 4096), 1);
  EXPECT_EQ(g_options.top_pad, 4096u);
  ASSERT_EQ(options_mallopt(M_PERTURB, 0x33), 1);
  EXPECT_EQ(g_options.perturb, 0x33);
  ASSERT_EQ(options_mallopt(M_PERTURB, 0), 1);
}

// ---- os::advise_hugepages, what BRKMALLOC_HUGEPAGES / glibc.malloc.hugetlb ask the arenas for ----

// The VmFlags line of the /proc/self/smaps mapping that contains addr.
std::string vm_flags_at(uintptr_t addr) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo, hi;
    if (sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = addr >= lo && addr < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

bool has_flag(const std::string& flags, const char* f) { return (flags + " ").find(std::string(" ") + f + " ") != std::string::npos; }

TEST(HugePages, AdvisesOnlyWholeAlignedHugePages) {
  const size_t huge = size_t{2} << 20;
  char* base = static_cast<char*>(os::map(4 * huge, huge));
  ASSERT_NE(base, nullptr);
  // From one page into the first huge page to one page into the fourth: only the second and third are whole.
  ASSERT_TRUE(os::advise_hugepages(base + kPageSize, 3 * huge));
  const uintptr_t b = reinterpret_cast<uintptr_t>(base);
  EXPECT_FALSE(has_flag(vm_flags_at(b), "hg")) << vm_flags_at(b);
  EXPECT_TRUE(has_flag(vm_flags_at(b + huge), "hg")) << vm_flags_at(b + huge);
  EXPECT_TRUE(has_flag(vm_flags_at(b + 3 * huge - 1), "hg"));
  EXPECT_FALSE(has_flag(vm_flags_at(b + 3 * huge), "hg")) << vm_flags_at(b + 3 * huge);
  // Less than one whole huge page: nothing to advise.
  EXPECT_FALSE(os::advise_hugepages(base + kPageSize, huge));
  os::unmap(base, 4 * huge);
}

}  // namespace
}  // namespace brkmalloc

namespace brkmalloc {
namespace {

// glibc's perturb byte (M_PERTURB): a new block (not calloc's) reads as the byte's complement, a freed
// one as the byte. A thread's frees follow the setting it started with, so the check runs in a new one.
TEST(Perturb, NewAndFreedBlocksAreFilled) {
  ASSERT_EQ(options_mallopt(M_PERTURB, 0x5a), 1);
  std::thread([] {
    for (size_t size : {size_t{24}, size_t{100}, size_t{3000}, size_t{200} << 10}) {
      SCOPED_TRACE(size);
      unsigned char* p = static_cast<unsigned char*>(brk_malloc(size));
      ASSERT_NE(p, nullptr);
      for (size_t i = 0; i < size; ++i) ASSERT_EQ(p[i], 0xa5) << i;
      unsigned char* z = static_cast<unsigned char*>(brk_calloc(1, size));
      ASSERT_NE(z, nullptr);
      for (size_t i = 0; i < size; ++i) ASSERT_EQ(z[i], 0) << i;
      brk_free(z);
      if (size <= 4096) {
        brk_free(p);
        // Still our memory (a free block of a live span): beyond the free-list words it reads as the byte.
        for (size_t i = 16; i < size; ++i) ASSERT_EQ(p[i], 0x5a) << i;
      } else {
        brk_free(p);
      }
    }
  }).join();
  ASSERT_EQ(options_mallopt(M_PERTURB, 0), 1);
  unsigned char* q = static_cast<unsigned char*>(brk_malloc(64));
  ASSERT_NE(q, nullptr);
  brk_free(q);
}

}  // namespace
}  // namespace brkmalloc
