// The heap profiler's tables (see prof_table.h). Every function runs under g_prof_lock.
#include "allocator/prof_table.h"

#include <string.h>

#include "allocator/os.h"

namespace brkmalloc {

Lock g_prof_lock;

namespace {

inline uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

// ---- stacks -------------------------------------------------------------------------------------------

ProfStack* g_stacks;      // g_stack_cap records, g_stack_count used
uint32_t g_stack_count, g_stack_cap;
uint32_t* g_stack_index;  // 2 * g_stack_cap slots: stack number + 1, 0 when empty

uint64_t stack_hash(const uintptr_t* frames, unsigned depth) {
  uint64_t h = depth;
  for (unsigned i = 0; i < depth; ++i) h = mix(h ^ frames[i]) + i;
  return h | 1;
}

void index_put(uint32_t* index, uint32_t slots, uint64_t hash, uint32_t i) {
  for (uint32_t j = uint32_t(hash) & (slots - 1);; j = (j + 1) & (slots - 1)) {
    if (!index[j]) {
      index[j] = i + 1;
      return;
    }
  }
}

bool stacks_grow() {
  uint32_t cap = g_stack_cap ? g_stack_cap * 2 : 1024;
  auto* stacks = static_cast<ProfStack*>(os::map(size_t(cap) * sizeof(ProfStack), kPageSize));
  auto* index = static_cast<uint32_t*>(os::map(size_t(cap) * 2 * sizeof(uint32_t), kPageSize));
  if (!stacks || !index) {
    if (stacks) os::unmap(stacks, size_t(cap) * sizeof(ProfStack));
    if (index) os::unmap(index, size_t(cap) * 2 * sizeof(uint32_t));
    return false;
  }
  if (g_stacks) {
    memcpy(stacks, g_stacks, size_t(g_stack_count) * sizeof(ProfStack));
    os::unmap(g_stacks, size_t(g_stack_cap) * sizeof(ProfStack));
    os::unmap(g_stack_index, size_t(g_stack_cap) * 2 * sizeof(uint32_t));
  }
  for (uint32_t i = 0; i < g_stack_count; ++i) index_put(index, cap * 2, stacks[i].hash, i);
  g_stacks = stacks;
  g_stack_index = index;
  g_stack_cap = cap;
  return true;
}

// ---- samples ------------------------------------------------------------------------------------------

ProfSample* g_samples;  // g_sample_cap slots (a power of two), at most half used
uint64_t g_sample_cap, g_sample_count;

uint64_t slot_of(uintptr_t addr, uint64_t cap) { return mix(addr >> 4) & (cap - 1); }

bool samples_grow() {
  uint64_t cap = g_sample_cap ? g_sample_cap * 2 : 4096;
  auto* t = static_cast<ProfSample*>(os::map(cap * sizeof(ProfSample), kPageSize));
  if (!t) return false;
  for (uint64_t i = 0; i < g_sample_cap; ++i) {
    const ProfSample& s = g_samples[i];
    if (!s.addr) continue;
    uint64_t j = slot_of(s.addr, cap);
    while (t[j].addr) j = (j + 1) & (cap - 1);
    t[j] = s;
  }
  if (g_samples) os::unmap(g_samples, g_sample_cap * sizeof(ProfSample));
  g_samples = t;
  g_sample_cap = cap;
  return true;
}

// The slot holding addr, or the empty slot where it would go.
uint64_t find_slot(uintptr_t addr) {
  uint64_t j = slot_of(addr, g_sample_cap);
  while (g_samples[j].addr && g_samples[j].addr != addr) j = (j + 1) & (g_sample_cap - 1);
  return j;
}

}  // namespace

uint32_t prof_stack_intern(const uintptr_t* frames, unsigned depth) {
  if (depth > kProfMaxFrames) depth = kProfMaxFrames;
  uint64_t h = stack_hash(frames, depth);
  if (g_stack_cap) {
    uint32_t slots = g_stack_cap * 2;
    for (uint32_t j = uint32_t(h) & (slots - 1); g_stack_index[j]; j = (j + 1) & (slots - 1)) {
      ProfStack& s = g_stacks[g_stack_index[j] - 1];
      if (s.hash == h && s.depth == depth && !memcmp(s.frames, frames, depth * sizeof(uintptr_t)))
        return g_stack_index[j] - 1;
    }
  }
  if (g_stack_count == g_stack_cap && !stacks_grow()) return kProfNoStack;
  uint32_t i = g_stack_count++;
  ProfStack& s = g_stacks[i];
  memset(&s, 0, sizeof s);
  s.hash = h;
  s.depth = depth;
  memcpy(s.frames, frames, depth * sizeof(uintptr_t));
  index_put(g_stack_index, g_stack_cap * 2, h, i);
  return i;
}

ProfStack* prof_stack_at(uint32_t i) { return &g_stacks[i]; }
uint32_t prof_stack_count() { return g_stack_count; }

bool prof_sample_insert(const ProfSample& s, ProfSample* old) {
  old->addr = 0;
  if ((g_sample_count + 1) * 2 > g_sample_cap && !samples_grow()) return false;
  uint64_t j = find_slot(s.addr);
  if (g_samples[j].addr) *old = g_samples[j];
  else ++g_sample_count;
  g_samples[j] = s;
  return true;
}

bool prof_sample_remove(uintptr_t addr, ProfSample* out) {
  if (!g_sample_count) return false;
  uint64_t mask = g_sample_cap - 1, j = find_slot(addr);
  if (!g_samples[j].addr) return false;
  *out = g_samples[j];
  // Backward shift: move later entries of the probe run into the hole if their home allows it.
  for (uint64_t k = (j + 1) & mask; g_samples[k].addr; k = (k + 1) & mask) {
    uint64_t home = slot_of(g_samples[k].addr, g_sample_cap);
    if (((k - home) & mask) >= ((k - j) & mask)) {
      g_samples[j] = g_samples[k];
      j = k;
    }
  }
  g_samples[j].addr = 0;
  --g_sample_count;
  return true;
}

bool prof_sample_contains(uintptr_t addr) {
  return g_sample_count && g_samples[find_slot(addr)].addr == addr;
}

}  // namespace brkmalloc
