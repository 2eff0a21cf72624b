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

constexpr uint64_t kCheckMask = (uint64_t{1} << 20) - 1;

uint64_t check_of(uintptr_t p, size_t n, unsigned align_log) {
  return (mix(g_tail_key ^ p ^ (uint64_t(n) << 6 | align_log)) & kCheckMask) | 0x80;
}

// The pattern of the 8-byte word at a (8-aligned): every byte has bit 7 set.
uint64_t pattern_word(uintptr_t a) { return mix(g_pattern_key ^ a) | 0x8080808080808080ull; }

uint8_t pattern_byte(uintptr_t a) { return uint8_t(pattern_word(a & ~uintptr_t{7}) >> ((a & 7) * 8)); }

}  // namespace

void canary_init(uint64_t seed) {
  g_tail_key = mix(seed ^ 0x7461696cull);
  g_pattern_key = mix(seed ^ 0x70617474ull);
  g_free_key = mix(seed ^ 0x66726565ull);
}

void canary_seal(void* p, size_t n, unsigned align_log, size_t cap) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p) + n, end = reinterpret_cast<uintptr_t>(p) + cap - kTailBytes;
  for (; a < end && (a & 7); ++a) *reinterpret_cast<uint8_t*>(a) = pattern_byte(a);
  for (; a < end; a += 8) *reinterpret_cast<uint64_t*>(a) = pattern_word(a);  // end is 8-aligned
  *tail_of(p, cap) = uint64_t(n) << 26 | uint64_t(align_log) << 20 | check_of(uintptr_t(p), n, align_log);
}

bool canary_check(const void* p, size_t cap, size_t* n_out, unsigned* align_out) {
  uint64_t tail = *tail_of(p, cap);
  size_t n = size_t(tail >> 26);
  unsigned align_log = unsigned(tail >> 20) & 63;
  if (n > cap - kTailBytes || (tail & kCheckMask) != check_of(uintptr_t(p), n, align_log)) return false;
  uintptr_t a = reinterpret_cast<uintptr_t>(p) + n, end = reinterpret_cast<uintptr_t>(p) + cap - kTailBytes;
  for (; a < end && (a & 7); ++a)
    if (*reinterpret_cast<const uint8_t*>(a) != pattern_byte(a)) return false;
  for (; a < end; a += 8)
    if (*reinterpret_cast<const uint64_t*>(a) != pattern_word(a)) return false;
  *n_out = n;
  *align_out = align_log;
  return true;
}

// Bit 7 of the first byte clear: never a live tail (whose check always has it set).
uint64_t free_tag(const void* p, size_t cap) {
  return mix(g_free_key ^ reinterpret_cast<uintptr_t>(p) ^ (uint64_t(cap) << 40)) & ~uint64_t{0x80};
}

}  // namespace brkmalloc
