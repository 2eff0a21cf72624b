// The canary of a hardened block (see hardened.h). A block of capacity `cap` bytes (its size class, or a
// big block's pages before its guard page) holding `n` requested bytes looks like:
//   [0, n) the program's bytes | [n, cap - 8) slack: pattern bytes | [cap - 8, cap) the tail word.
// Tail word, little-endian: bits 0..19 a check (a keyed hash of n, the alignment and the block address,
// bit 7 always set), bits 20..25 log2 of the alignment asked for, bits 26..63 n (so at most 2^38 bytes).
// Pattern bytes all have bit 7 set, as does the tail's first byte: an off-by-one write of a NUL or any
// ASCII byte always changes what is there, so it is always found; another value escapes with 1 in 128.
// A small block in quarantine has free_tag as its tail instead (never a live tail: bit 7 of its first byte
// is clear); a write after free that lands on the tail changes it.
#ifndef BRK_HARDENED_CANARY_H
#define BRK_HARDENED_CANARY_H

#include "allocator/config.h"

namespace brkmalloc {

constexpr size_t kTailBytes = 8;
constexpr size_t kMaxHardenedSize = (size_t{1} << 38) - 1;

void canary_init(uint64_t seed);
// Writes the slack pattern and the tail word.
void canary_seal(void* p, size_t n, unsigned align_log, size_t cap);
// Reads the tail word and checks it and the slack; false if either was overwritten.
bool canary_check(const void* p, size_t cap, size_t* n, unsigned* align_log);
uint64_t free_tag(const void* p, size_t cap);
BRK_INLINE uint64_t* tail_of(const void* p, size_t cap) {
  return reinterpret_cast<uint64_t*>(reinterpret_cast<uintptr_t>(p) + cap - kTailBytes);
}

}  // namespace brkmalloc

#endif
