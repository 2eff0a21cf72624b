// Compile-time constants and the few compiler annotations the allocator uses everywhere.
// Nothing here depends on any other file of the project: every other header may include it.
#ifndef BRK_CONFIG_H
#define BRK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define BRK_LIKELY(x) __builtin_expect(!!(x), 1)
#define BRK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BRK_INLINE inline __attribute__((always_inline))
#define BRK_NOINLINE __attribute__((noinline))
#define BRK_COLD __attribute__((noinline, cold))
#define BRK_TLS __attribute__((tls_model("initial-exec")))

namespace brkmalloc {

constexpr size_t kPageShift = 12;
constexpr size_t kPageSize = size_t{1} << kPageShift;
// glibc promises 16-byte alignment for every block; so do we (every size class is a multiple of 16).
constexpr size_t kMinAlign = 16;
// The largest size class; larger blocks up to the mmap threshold are arena runs of their own (large.h).
constexpr size_t kMaxSmallSize = size_t{1} << 20;
// The mmap threshold rises (dynamically, or by setting) up to here: glibc's DEFAULT_MMAP_THRESHOLD_MAX.
constexpr size_t kMaxMmapThreshold = size_t{32} << 20;
// Alignments up to this come from the arenas; larger ones get a mapping of their own.
constexpr size_t kMaxArenaAlign = size_t{2} << 20;
constexpr size_t kDefaultMmapThreshold = size_t{128} << 10;
// Sizes up to this many bytes take the table lookup on the fast path.
constexpr size_t kSmallLookupMax = 1024;
// Address space reserved per arena (no memory until the break moves over it); halved on failure.
constexpr size_t kArenaReserve = size_t{1} << 30;
constexpr size_t kArenaFirstReserve = size_t{64} << 20;
constexpr size_t kArenaMinReserve = size_t{4} << 20;
// The break moves up at least this much at a time (one mprotect per step).
constexpr size_t kBreakStep = size_t{2} << 20;
// x86-64 user addresses have 47 significant bits.
constexpr unsigned kAddressBits = 47;

inline constexpr size_t align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
inline constexpr bool is_pow2(size_t a) { return a != 0 && (a & (a - 1)) == 0; }

}  // namespace brkmalloc

#endif
