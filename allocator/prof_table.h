// The heap profiler's two tables, both behind g_prof_lock (prof.h says who takes it):
// - stacks: every distinct sampled call stack, interned once and never removed (its total counts outlive
//   its live blocks), with raw sampled counts of live and of all allocations, and the estimated live bytes;
// - samples: live sampled blocks by address (open addressing, linear probing, backward-shift deletion,
//   so no tombstones), each naming its stack, its size and its estimate.
// Memory comes from os::map and grows by doubling (copy, then unmap the old); nothing here calls malloc,
// so it works inside malloc. Out of memory only loses samples, never blocks.
#ifndef BRK_PROF_TABLE_H
#define BRK_PROF_TABLE_H

#include <stdint.h>

#include "allocator/config.h"
#include "allocator/lock.h"

namespace brkmalloc {

constexpr unsigned kProfMaxFrames = 48;
constexpr uint32_t kProfNoStack = ~uint32_t{0};

struct ProfStack {
  uint64_t hash;
  uint32_t depth;
  uint64_t live_n, live_bytes;    // sampled blocks still live, and their requested bytes
  uint64_t total_n, total_bytes;  // every sampled allocation so far
  double live_est;                // estimated live bytes (sum of the live samples' weights)
  uintptr_t frames[kProfMaxFrames];  // return addresses, innermost first
};

struct ProfSample {
  uintptr_t addr;  // 0: empty slot
  uint32_t stack;
  uint64_t size;
  double weight;   // the bytes this sample stands for: size / (1 - e^(-size/rate))
};

extern Lock g_prof_lock;

// All of these need g_prof_lock.
uint32_t prof_stack_intern(const uintptr_t* frames, unsigned depth);  // kProfNoStack when out of memory
ProfStack* prof_stack_at(uint32_t i);
uint32_t prof_stack_count();
// Inserts a record; a stale one at the same address (its free was missed, prof.h) is replaced and
// returned in *old (old->addr is 0 if there was none). False when out of memory.
bool prof_sample_insert(const ProfSample& s, ProfSample* old);
bool prof_sample_remove(uintptr_t addr, ProfSample* out);
bool prof_sample_contains(uintptr_t addr);

}  // namespace brkmalloc

#endif
