// The settings table and its environment parser (see options.h).
#include "allocator/options.h"

#include <string.h>
#include <unistd.h>

#include "allocator/report.h"

extern char** environ;

namespace brkmalloc {

Options g_options;

namespace {

enum class Kind { kSize, kMillis, kBool, kChecks };

struct Setting {
  const char* name;  // after the BRKMALLOC_ prefix
  Kind kind;
  const char* help;
  bool Options::*flag;  // for Kind::kBool
};

constexpr Setting kSettings[] = {
    {"MMAP_THRESHOLD", Kind::kSize, "requests above this many bytes get their own mapping (max 32M)"},
    {"PURGE_DELAY_MS", Kind::kMillis, "freed pages stay resident this long before going back to the OS"},
    {"STATS", Kind::kBool, "1: print statistics on stderr at exit", &Options::print_stats},
    {"CHECKS", Kind::kChecks, "full: interior-pointer checks and encoded free lists on every call", nullptr},
    {"PURGE_THREAD", Kind::kBool, "0: no background purger; purge only when the allocator is called",
     &Options::purge_thread},
};

void warn(const char* name, const char* value, const char* reason, const char* default_text) {
  char buf[512];
  Writer w{buf, sizeof buf};
  w.str("brkmalloc: ignoring BRKMALLOC_").str(name).str("=").str(value).str(" (").str(reason).str("); keeping ")
      .str(default_text).str("\n").flush(2);
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

void apply(const Setting& st, const char* value) {
  char def[32];
  Writer d{def, sizeof def - 1};
  switch (st.kind) {
    case Kind::kSize: {
      size_t v;
      d.dec(g_options.mmap_threshold);
      def[d.len] = 0;
      if (!parse_size(value, &v)) return warn(st.name, value, "not a size in bytes, K, M or G", def);
      if (v > kMaxMmapThreshold) return warn(st.name, value, "above 32M, glibc's maximum", def);
      g_options.mmap_threshold = v;
      g_options.threshold_fixed = true;
      return;
    }
    case Kind::kMillis: {
      uint64_t v;
      d.dec(g_options.purge_delay_ms);
      def[d.len] = 0;
      if (!parse_uint(value, &v) || v > 3600000) return warn(st.name, value, "not milliseconds in 0..3600000", def);
      g_options.purge_delay_ms = v;
      return;
    }
    case Kind::kChecks:
      if (!strcmp(value, "full") || !strcmp(value, "default")) g_options.full_checks = value[0] == 'f';
      else warn(st.name, value, "not default or full", "default");
      return;
    case Kind::kBool:
      if (!strcmp(value, "1") || !strcmp(value, "0")) g_options.*st.flag = value[0] == '1';
      else warn(st.name, value, "not 0 or 1", g_options.*st.flag ? "1" : "0");
      return;
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

void options_init() {
  static bool done = false;
  if (done || !environ) return;
  done = true;
  static const char kPrefix[] = "BRKMALLOC_";
  for (char** e = environ; *e; ++e) {
    if (strncmp(*e, kPrefix, sizeof kPrefix - 1) != 0) continue;
    const char* name = *e + sizeof kPrefix - 1;
    const char* eq = strchr(name, '=');
    if (!eq) continue;
    bool known = false;
    for (const Setting& st : kSettings) {
      size_t n = strlen(st.name);
      if (size_t(eq - name) == n && !strncmp(name, st.name, n)) {
        apply(st, eq + 1);
        known = true;
      }
    }
    if (!known) {
      char buf[256];
      Writer w{buf, sizeof buf};
      w.str("brkmalloc: ignoring unknown setting BRKMALLOC_");
      for (const char* c = name; c < eq && w.len < 200; ++c) buf[w.len++] = *c;
      w.str("\n").flush(2);
    }
  }
}

}  // namespace brkmalloc
