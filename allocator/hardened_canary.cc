// Canaries: the tail word and the slack pattern of hardened blocks (layout in hardened_canary.h). The
// keys come from the process's secrets, so a program cannot forge a tail it has not read.
#include "allocator/hardened_canary.h"

namespace brkmalloc {

namespace {

uint64_t g_tail_key, g_pattern_key, g_free_key;

// splitmix64's finaliser: every input bit moves about half the output bits.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// One multiply and a fold: enough to make a stray write's value (a NUL, text, a pointer) match with the
// odds of the bits compared; a program that reads its own slack could forge any keyed value anyway.
inline uint64_t keyed(uint64_t key, uint64_t x) {
  x = (x ^ key) * 0x9e3779b97f4a7c15ull;
  return x ^ (x >> 29);
}

constexpr uint64_t kCheckMask = (uint64_t{1} << 20) - 1;

uint64_t check_of(uintptr_t p, size_t n, unsigned align_log) {
  return (keyed(g_tail_key, p ^ (uint64_t(n) << 6 | align_log)) & kCheckMask) | 0x80;
}

// The pattern of the 8-byte word at a (8-aligned): every byte has bit 7 set.
inline uint64_t pattern_word(uintptr_t a) { return keyed(g_pattern_key, a) | 0x8080808080808080ull; }

// The slack [p + n, p + cap - 8) word by word: the first word may start with program bytes (below n),
// which the mask keeps out (`keep`: their bits). cap - 8 is a multiple of 8 and p is 16-aligned, so the
// slack ends on a word boundary.
struct Slack {
  uintptr_t first, end;
  uint64_t keep;
};
inline Slack slack_of(const void* p, size_t n, size_t cap) {
  uintptr_t start = reinterpret_cast<uintptr_t>(p) + n;
  unsigned skip = unsigned(start & 7);
  return Slack{start & ~uintptr_t{7}, reinterpret_cast<uintptr_t>(p) + cap - kTailBytes,
               skip ? ~uint64_t{0} >> (64 - 8 * skip) : 0};
}

}  // namespace

void canary_init(uint64_t seed) {
  g_tail_key = mix(seed ^ 0x7461696cull);
  g_pattern_key = mix(seed ^ 0x70617474ull);
  g_free_key = mix(seed ^ 0x66726565ull);
}

void canary_seal(void* p, size_t n, unsigned align_log, size_t cap) {
  Slack sl = slack_of(p, n, cap);
  uintptr_t a = sl.first;
  if (a < sl.end) {
    uint64_t* w = reinterpret_cast<uint64_t*>(a);
    *w = (*w & sl.keep) | (pattern_word(a) & ~sl.keep);
    for (a += 8; a < sl.end; a += 8) *reinterpret_cast<uint64_t*>(a) = pattern_word(a);
  }
  *tail_of(p, cap) = uint64_t(n) << 26 | uint64_t(align_log) << 20 | check_of(uintptr_t(p), n, align_log);
}

bool canary_check(const void* p, size_t cap, size_t* n_out, unsigned* align_out) {
  uint64_t tail = *tail_of(p, cap);
  size_t n = size_t(tail >> 26);
  unsigned align_log = unsigned(tail >> 20) & 63;
  if (n > cap - kTailBytes || (tail & kCheckMask) != check_of(uintptr_t(p), n, align_log)) return false;
  Slack sl = slack_of(p, n, cap);
  uintptr_t a = sl.first;
  if (a < sl.end) {
    uint64_t diff = (*reinterpret_cast<const uint64_t*>(a) ^ pattern_word(a)) & ~sl.keep;
    for (a += 8; a < sl.end; a += 8) diff |= *reinterpret_cast<const uint64_t*>(a) ^ pattern_word(a);
    if (diff) return false;
  }
  *n_out = n;
  *align_out = align_log;
  return true;
}

// Bit 7 of the first byte clear: never a live tail (whose check always has it set).
uint64_t free_tag(const void* p, size_t cap) {
  return keyed(g_free_key, reinterpret_cast<uintptr_t>(p) ^ (uint64_t(cap) << 40)) & ~uint64_t{0x80};
}

}  // namespace brkmalloc
