// The settings tables and the environment parser (see options.h for the sources and their precedence).
// Nothing here allocates: it runs inside the first malloc.
#include "allocator/options.h"

#include <malloc.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "allocator/report.h"
#include "allocator/runtime.h"

extern char** environ;

namespace brkmalloc {

Options g_options;

namespace {

// ---- warnings ---------------------------------------------------------------------------------------

// "brkmalloc: ignoring <what> (<reason>); keeping <kept>". `what` is NAME=value or a tunables entry.
void warn(int fd, const char* what_prefix, const char* what, size_t what_len, const char* reason,
          const char* kept) {
  char buf[512];
  Writer w{buf, sizeof buf};
  w.str("brkmalloc: ignoring ").str(what_prefix);
  for (size_t i = 0; i < what_len && w.len < 300; ++i) buf[w.len++] = what[i];
  w.str(" (").str(reason).str("); keeping ").str(kept).str("\n").flush(fd);
}

// Decimal text of v in buf (for the "keeping" part of a warning).
const char* dec_text(char (&buf)[32], uint64_t v) {
  Writer d{buf, sizeof buf - 1};
  d.dec(v);
  buf[d.len] = 0;
  return buf;
}

bool parse_uint(const char* s, uint64_t* out) {
  uint64_t v = 0;
  if (!*s) return false;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
    uint64_t d = uint64_t(*s - '0');
    if (v > (~uint64_t{0} - d) / 10) return false;  // v * 10 + d would wrap
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// ---- BRKMALLOC_* ------------------------------------------------------------------------------------

enum class Kind { kSize, kMillis, kBool, kChecks, kPath, kProfileBytes, kSignal };

struct Setting {
  const char* name;  // after the BRKMALLOC_ prefix
  Kind kind;
  const char* help;
  bool Options::*flag;  // for Kind::kBool
};

constexpr Setting kSettings[] = {
    {"MMAP_THRESHOLD", Kind::kSize, "requests above this many bytes get their own mapping", nullptr},
    {"PURGE_DELAY_MS", Kind::kMillis, "freed pages stay resident this long before going back to the OS", nullptr},
    {"STATS", Kind::kBool, "1: print statistics on stderr at exit", &Options::print_stats},
    {"CHECKS", Kind::kChecks, "full: interior-pointer checks and encoded free lists on every call; hardened: also canaries, guard pages, zero-on-free, quarantine", nullptr},
    {"PURGE_THREAD", Kind::kBool, "0: no background purger; purge only when the allocator is called",
     &Options::purge_thread},
    {"HUGEPAGES", Kind::kBool, "1: ask for transparent huge pages on the arenas", &Options::hugepages},
    {"PROFILE", Kind::kPath, "path prefix of heap profiles <prefix>.<pid>.<seq>.heap (turns sampling on)", nullptr},
    {"LEAKS", Kind::kPath, "1: leak report on stderr at exit; a path: appended to that file", nullptr},
    {"PROFILE_RATE", Kind::kProfileBytes, "mean bytes between heap-profile samples", nullptr},
    {"PROFILE_INTERVAL", Kind::kProfileBytes, "a profile each time in-use memory grows this much; 0: never", nullptr},
    {"PROFILE_SIGNAL", Kind::kSignal, "a signal number that writes a heap profile", nullptr},
};

void apply(const Setting& st, const char* entry, const char* value, Options* o, int fd) {
  char def[32];
  const size_t entry_len = strlen(entry);
  switch (st.kind) {
    case Kind::kSize: {
      size_t v;
      dec_text(def, o->mmap_threshold);
      if (!parse_size(value, &v)) return warn(fd, "", entry, entry_len, "not a size in bytes, K, M or G", def);
      if (v > kMaxMmapThreshold) {
        char reason[64];
        Writer r{reason, sizeof reason - 1};
        r.str("above the largest threshold, ").dec(kMaxMmapThreshold);
        reason[r.len] = 0;
        return warn(fd, "", entry, entry_len, reason, def);
      }
      o->mmap_threshold = v;
      o->threshold_fixed = true;
      return;
    }
    case Kind::kMillis: {
      uint64_t v;
      dec_text(def, o->purge_delay_ms);
      if (!parse_uint(value, &v) || v > 3600000)
        return warn(fd, "", entry, entry_len, "not milliseconds in 0..3600000", def);
      o->purge_delay_ms = v;
      return;
    }
    case Kind::kChecks:
      if (!strcmp(value, "full") || !strcmp(value, "default") || !strcmp(value, "hardened")) {
        o->full_checks = value[0] == 'f';
        o->hardened = value[0] == 'h';
      } else {
        warn(fd, "", entry, entry_len, "not default, full or hardened",
             o->hardened ? "hardened" : o->full_checks ? "full" : "default");
      }
      return;
    case Kind::kBool:
      if (!strcmp(value, "1") || !strcmp(value, "0")) o->*st.flag = value[0] == '1';
      else warn(fd, "", entry, entry_len, "not 0 or 1", o->*st.flag ? "1" : "0");
      return;
    case Kind::kPath: {
      char* dst = st.name[0] == 'L' ? o->leaks : o->profile_prefix;
      size_t n = strlen(value);
      if (n >= sizeof o->leaks) return warn(fd, "", entry, entry_len, "longer than 255 bytes", dst[0] ? dst : "none");
      if (st.name[0] == 'L' && !strcmp(value, "0")) n = 0;  // LEAKS=0: off
      memcpy(dst, value, n);
      dst[n] = 0;
      return;
    }
    case Kind::kProfileBytes: {
      bool rate = !strcmp(st.name, "PROFILE_RATE");
      size_t& dst = rate ? o->profile_rate : o->profile_interval;
      size_t v;
      dec_text(def, dst);
      if (!parse_size(value, &v) || (rate && (v == 0 || v > (size_t{1} << 40))))
        return warn(fd, "", entry, entry_len, rate ? "not a size in 1..1T bytes, K, M or G" : "not a size in bytes, K, M or G", def);
      dst = v;
      return;
    }
    case Kind::kSignal: {
      uint64_t v;
      dec_text(def, uint64_t(o->profile_signal));
      if (!parse_uint(value, &v) || v < 1 || v > 64 || v == 9 || v == 19)
        return warn(fd, "", entry, entry_len, "not a catchable signal number", def);
      o->profile_signal = int(v);
      return;
    }
  }
}

// ---- glibc's settings -------------------------------------------------------------------------------

// What a glibc setting does here (see README "Configuration").
enum class Glibc { kMmapThreshold, kTrimThreshold, kTopPad, kMmapMax, kPerturb, kCheck, kHugetlb, kNoEffect };

struct GlibcSetting {
  const char* tunable;  // after "glibc.malloc."
  const char* alias;    // glibc's older environment variable, or nullptr
  Glibc what;
  uint64_t min, max;    // glibc's limits (SIZE_T, INT_32 or the tunable's own)
};

constexpr uint64_t kSizeMax = ~uint64_t{0};
constexpr uint64_t kInt32Max = 0x7fffffff;

// glibc 2.36's elf/dl-tunables.list, malloc part. glibc 2.36 takes any mmap threshold (mallopt answers 1
// even for SIZE_MAX); we take it too and serve blocks up to our largest threshold from the arenas.
constexpr GlibcSetting kGlibc[] = {
    {"mmap_threshold", "MALLOC_MMAP_THRESHOLD_", Glibc::kMmapThreshold, 0, kSizeMax},
    {"trim_threshold", "MALLOC_TRIM_THRESHOLD_", Glibc::kTrimThreshold, 0, kSizeMax},
    {"top_pad", "MALLOC_TOP_PAD_", Glibc::kTopPad, 0, kSizeMax},
    {"mmap_max", "MALLOC_MMAP_MAX_", Glibc::kMmapMax, 0, kInt32Max},
    {"perturb", "MALLOC_PERTURB_", Glibc::kPerturb, 0, 0xff},
    {"check", "MALLOC_CHECK_", Glibc::kCheck, 0, 3},
    {"hugetlb", nullptr, Glibc::kHugetlb, 0, kSizeMax},
    {"arena_max", "MALLOC_ARENA_MAX", Glibc::kNoEffect, 1, kSizeMax},
    {"arena_test", "MALLOC_ARENA_TEST", Glibc::kNoEffect, 1, kSizeMax},
};

uint64_t glibc_current(const GlibcSetting& g, const Options* o) {
  switch (g.what) {
    case Glibc::kMmapThreshold: return o->mmap_threshold;
    case Glibc::kTrimThreshold: return o->trim_threshold;
    case Glibc::kTopPad: return o->top_pad;
    case Glibc::kMmapMax: return uint64_t(o->mmap_max);
    case Glibc::kPerturb: return uint64_t(o->perturb);
    case Glibc::kCheck: return o->full_checks ? 3 : 0;
    case Glibc::kHugetlb: return o->hugepages ? 1 : 0;
    case Glibc::kNoEffect: return 0;
  }
  return 0;
}

// what_prefix + what is how the user wrote it (for the warning).
void apply_glibc(const GlibcSetting& g, const char* value, const char* what_prefix, const char* what,
                 size_t what_len, Options* o, int fd) {
  uint64_t v;
  char kept[32];
  if (g.what == Glibc::kNoEffect) {
    strcpy(kept, "no effect");
  } else {
    dec_text(kept, glibc_current(g, o));
  }
  if (!parse_glibc_number(value, &v) || v < g.min || v > g.max) {
    char reason[96];
    Writer r{reason, sizeof reason - 1};
    r.str("not a number in ").dec(g.min).str("..").dec(g.max);
    reason[r.len] = 0;
    return warn(fd, what_prefix, what, what_len, reason, kept);
  }
  switch (g.what) {
    case Glibc::kMmapThreshold:
      o->mmap_threshold = v < kMaxMmapThreshold ? size_t(v) : kMaxMmapThreshold;
      o->threshold_fixed = true;
      return;
    case Glibc::kTrimThreshold:
      o->trim_threshold = size_t(v);
      o->trim_set = true;
      o->threshold_fixed = true;
      return;
    case Glibc::kTopPad: o->top_pad = size_t(v); o->threshold_fixed = true; return;
    case Glibc::kMmapMax: o->mmap_max = int(v); o->threshold_fixed = true; return;
    case Glibc::kPerturb: o->perturb = int(v); return;
    case Glibc::kCheck: o->full_checks = v != 0; return;
    case Glibc::kHugetlb: o->hugepages = v != 0; return;
    case Glibc::kNoEffect: return;
  }
}

bool name_is(const char* name, size_t len, const char* want) { return strlen(want) == len && !strncmp(name, want, len); }

// GLIBC_TUNABLES=name=value:name=value... Later entries win, as in glibc; names outside glibc.malloc
// are not ours and are skipped silently, as are glibc.malloc tunables with no meaning here.
void parse_tunables(const char* s, Options* o, int fd) {
  static const char kMalloc[] = "glibc.malloc.";
  while (*s) {
    const char* end = strchr(s, ':');
    if (!end) end = s + strlen(s);
    const char* eq = static_cast<const char*>(memchr(s, '=', size_t(end - s)));
    if (eq && size_t(eq - s) > sizeof kMalloc - 1 && !strncmp(s, kMalloc, sizeof kMalloc - 1)) {
      const char* name = s + sizeof kMalloc - 1;
      for (const GlibcSetting& g : kGlibc) {
        if (!name_is(name, size_t(eq - name), g.tunable)) continue;
        char value[64];
        size_t n = size_t(end - eq - 1);
        if (n >= sizeof value) n = 0;  // too long for any number: the empty text is refused below
        memcpy(value, eq + 1, n);
        value[n] = 0;
        apply_glibc(g, value, "GLIBC_TUNABLES entry ", s, size_t(end - s), o, fd);
      }
    }
    s = *end ? end + 1 : end;
  }
}

}  // namespace

bool parse_size(const char* s, size_t* out) {
  size_t len = strlen(s);
  if (len == 0 || len > 30) return false;
  char digits[32];
  memcpy(digits, s, len + 1);
  unsigned shift = 0;
  switch (digits[len - 1]) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: break;
  }
  if (shift) digits[len - 1] = 0;
  uint64_t v;
  if (!parse_uint(digits, &v) || v > (~uint64_t{0} >> shift)) return false;
  *out = size_t(v << shift);
  return true;
}

bool parse_glibc_number(const char* s, uint64_t* out) {
  while (*s == ' ' || *s == '\t') ++s;
  bool negative = *s == '-';
  if (*s == '-' || *s == '+') ++s;
  if (*s < '0' || *s > '9') return false;
  unsigned base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
    if (!*s) return false;
  } else if (s[0] == '0') {
    base = 8;
  }
  uint64_t v = 0;
  bool overflow = false;
  for (; *s; ++s) {
    unsigned d;
    if (*s >= '0' && *s <= '9') d = unsigned(*s - '0');
    else if (*s >= 'a' && *s <= 'f') d = unsigned(*s - 'a' + 10);
    else if (*s >= 'A' && *s <= 'F') d = unsigned(*s - 'A' + 10);
    else return false;
    if (d >= base) return false;
    if (v > (~uint64_t{0} - d) / base) overflow = true;
    v = v * base + d;
  }
  // As glibc's _dl_strtoul: too large reads as the largest value, a minus sign negates modulo 2^64.
  if (overflow) v = ~uint64_t{0};
  *out = negative ? uint64_t(0) - v : v;
  return true;
}

void options_parse(const char* const* env, bool secure, Options* o, int fd) {
  if (!env || secure) return;
  // 1. glibc's older variables.
  for (const char* const* e = env; *e; ++e) {
    const char* eq = strchr(*e, '=');
    if (!eq || strncmp(*e, "MALLOC_", 7) != 0) continue;
    for (const GlibcSetting& g : kGlibc)
      if (g.alias && name_is(*e, size_t(eq - *e), g.alias)) apply_glibc(g, eq + 1, "", *e, strlen(*e), o, fd);
  }
  // 2. glibc's tunables, over its older variables.
  static const char kTunables[] = "GLIBC_TUNABLES=";
  for (const char* const* e = env; *e; ++e)
    if (!strncmp(*e, kTunables, sizeof kTunables - 1)) parse_tunables(*e + sizeof kTunables - 1, o, fd);
  // 3. Ours, over both.
  static const char kPrefix[] = "BRKMALLOC_";
  for (const char* const* e = env; *e; ++e) {
    if (strncmp(*e, kPrefix, sizeof kPrefix - 1) != 0) continue;
    const char* name = *e + sizeof kPrefix - 1;
    const char* eq = strchr(name, '=');
    if (!eq) continue;
    bool known = false;
    for (const Setting& st : kSettings) {
      if (name_is(name, size_t(eq - name), st.name)) {
        apply(st, *e, eq + 1, o, fd);
        known = true;
      }
    }
    if (!known) {
      char buf[256];
      Writer w{buf, sizeof buf};
      w.str("brkmalloc: ignoring unknown setting BRKMALLOC_");
      for (const char* c = name; c < eq && w.len < 200; ++c) buf[w.len++] = *c;
      w.str("\n").flush(fd);
    }
  }
  // glibc never maps a block of its own while mmap_max is 0; here that means up to the largest threshold.
  if (o->mmap_max <= 0) {
    o->mmap_threshold = kMaxMmapThreshold;
    o->threshold_fixed = true;
  }
}

void options_init() {
  static bool done = false;
  if (done || !environ) return;
  done = true;
  options_parse(environ, getauxval(AT_SECURE) != 0, &g_options, 2);
}

int options_mallopt(int param, int value) {
  runtime_init();  // the environment is read first, so it cannot undo a mallopt
  // glibc passes the int to size_t parameters: a negative value becomes a huge one.
  const size_t as_size = size_t(value);
  auto fix = [] { __atomic_store_n(&g_options.threshold_fixed, true, __ATOMIC_RELAXED); };
  switch (param) {
    case M_MXFAST:  // glibc: at most MAX_FAST_SIZE, 80 * sizeof(size_t) / 4
      return as_size <= 80 * sizeof(size_t) / 4 ? 1 : 0;
    case M_TRIM_THRESHOLD:
      __atomic_store_n(&g_options.trim_threshold, as_size, __ATOMIC_RELAXED);
      __atomic_store_n(&g_options.trim_set, true, __ATOMIC_RELEASE);
      fix();
      return 1;
    case M_TOP_PAD:
      __atomic_store_n(&g_options.top_pad, as_size, __ATOMIC_RELAXED);
      fix();
      return 1;
    case M_MMAP_THRESHOLD:  // glibc 2.36 refuses no value; above our largest threshold means that one
      // While mmap_max is 0 no block gets a mapping of its own, whatever the threshold says.
      if (__atomic_load_n(&g_options.mmap_max, __ATOMIC_RELAXED) > 0) set_mmap_threshold(as_size < kMaxMmapThreshold ? as_size : kMaxMmapThreshold);
      fix();
      return 1;
    case M_MMAP_MAX:
      __atomic_store_n(&g_options.mmap_max, value, __ATOMIC_RELAXED);
      if (value <= 0) set_mmap_threshold(kMaxMmapThreshold);
      fix();
      return 1;
    case M_PERTURB:
      __atomic_store_n(&g_options.perturb, value, __ATOMIC_RELAXED);
      refresh_small_bound();  // new blocks now take the slow paths, which fill them
      return 1;
    default:  // M_CHECK_ACTION, M_ARENA_TEST, M_ARENA_MAX and unknown parameters: glibc answers 1
      return 1;
  }
}

}  // namespace brkmalloc
