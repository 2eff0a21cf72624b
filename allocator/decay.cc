// The purge policy of the arena's free runs: age, and a cap that follows the recent peak (see decay.h).
#include "allocator/decay.h"

#include "allocator/options.h"

namespace brkmalloc {

namespace {

size_t g_peak;          // decaying maximum of the live bytes
size_t g_live;          // live bytes at the last note
uint64_t g_peak_ms;     // when the peak last halved (or was set)

// Halves the peak once per purge delay that has passed since it was last set or halved, never below the
// live bytes of the moment.
void decay_to(uint64_t now) {
  uint64_t delay = g_options.purge_delay_ms ? g_options.purge_delay_ms : 1;
  if (now - g_peak_ms < delay) return;
  uint64_t periods = (now - g_peak_ms) / delay;
  g_peak = periods >= 64 ? 0 : g_peak >> periods;
  if (g_peak < g_live) g_peak = g_live;
  g_peak_ms += periods * delay;
}

}  // namespace

void decay_note_live(size_t live, uint64_t now) {
  g_live = live;
  if (live >= g_peak) {
    g_peak = live;
    g_peak_ms = now;
  }
}

size_t decay_cap(uint64_t now) {
  if (__atomic_load_n(&g_options.trim_set, __ATOMIC_ACQUIRE))
    return __atomic_load_n(&g_options.trim_threshold, __ATOMIC_RELAXED);
  decay_to(now);
  return g_peak > kMinDirtyCap ? g_peak : kMinDirtyCap;
}

bool decay_due(uint64_t freed_ms, uint64_t now) { return now - freed_ms >= g_options.purge_delay_ms; }

uint64_t decay_wait(uint64_t freed_ms, uint64_t now) {
  uint64_t age = now - freed_ms;
  return age < g_options.purge_delay_ms ? g_options.purge_delay_ms - age : 0;
}

size_t decay_peak() { return g_peak; }

void decay_reset() {
  g_peak = g_live;
  g_peak_ms = 0;
}

}  // namespace brkmalloc
