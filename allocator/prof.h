// Sampling heap profiler and leak report (BRKMALLOC_PROFILE, BRKMALLOC_LEAKS; README "Heap profiles").
//
// Design (chosen so that the fast paths do not change at all):
// - Off (the default): g_prof_on is false and nothing else happens; the flag is read only on slow paths
//   (malloc_slow, the aligned and big-calloc paths, large frees and realloc of large blocks), so a
//   malloc+free pair costs exactly what it did (bench/checks_cost.sh: 80.0 instructions before and after).
// - On: runtime.cc's small_bound_for() returns 0, as under full checks, so every malloc reaches
//   malloc_slow; there prof_alloc() subtracts the request from a per-thread countdown of bytes
//   (exponentially distributed intervals of mean `rate`, 512 KiB by default, as tcmalloc does: an
//   allocation of s bytes is then sampled with probability 1 - e^(-s/rate), which is what pprof's heap_v2
//   reader undoes). Frees stay on their fast path: a sampled allocation is served by large_alloc(), a
//   span of its own whose free always reaches free_slow (a large span has no owner heap), and that is
//   where prof_forget() drops its record. Nothing is added to the free fast path. realloc is, to the
//   profiler, a free and an allocation (api.cc realloc_profiled): the old record goes, the new size is
//   charged to the countdown, and a sampled block that fits stays in its span.
// - A sample: the call stack from glibc's backtrace() (libgcc's DWARF unwinder, so programs without frame
//   pointers unwind too; it is in libc, so no new load-time dependency), with the allocator's own frames
//   removed (every function between the caller and the sampler lives in the section brk_alloc_path),
//   and the record goes into lock-protected tables (prof_table.h). backtrace()'s first call dlopens
//   libgcc_s and allocates: prof_start() primes it from our constructor, where allocating is allowed
//   (allocations before it are not sampled).
// - Reentrancy: tls_prof_busy is set while a thread is in the profiler (unwinding, or holding the lock);
//   a malloc from the unwinder or from a signal handler on that thread is not sampled, a dump asked for
//   then (signal) is done when the thread leaves, and a free then leaves a stale record that the next
//   sample at that address replaces. The profiler lock is a leaf: no other allocator lock is taken under
//   it, and nothing under it allocates. fork.cc takes it with the others (kLockOrder).
// - Output: gperftools' heap profile text (heap_v2/<rate>, raw sampled counts; MAPPED_LIBRARIES: and
//   /proc/self/maps), written with write(2) from a mapped buffer, to <prefix>.<pid>.<seq>.heap at exit,
//   on brk_prof_dump(), on BRKMALLOC_PROFILE_SIGNAL and each time the estimated in-use bytes pass the
//   last dump's by BRKMALLOC_PROFILE_INTERVAL. A forked child keeps its inherited samples and starts its
//   own sequence at 1 (its files carry its pid). The leak report (prof_dump.cc) lists live sampled sites
//   at exit, largest estimate first.
#ifndef BRK_PROF_H
#define BRK_PROF_H

#include <stdint.h>

#include "allocator/config.h"

// Functions that may stand between the program's call and the sampler: the unwound stack is cut at the
// first frame outside this section (the linker defines __start_/__stop_brk_alloc_path around it).
#define BRK_ALLOC_PATH __attribute__((section("brk_alloc_path")))

namespace brkmalloc {

extern bool g_prof_on;  // fixed by prof_init, before the first block
extern __thread int64_t tls_prof_left BRK_TLS;

// Reads the settings (runtime_init_slow, after options_init). Allocates nothing.
void prof_init();
// Primes the unwinder, installs the signal handler and the exit hook (runtime.cc's constructor: after
// libc's start-up, where allocating and unwinding work, static programs included). Once.
void prof_start();
// fork.cc, in the child: a new sequence of file names.
void prof_fork_child();

// The sampled path: a block of its own with a record, or nullptr when this one is not sampled (then the
// caller serves it as usual).
void* prof_sample(size_t size, size_t align, bool zero);
BRK_INLINE void* prof_alloc(size_t size, size_t align, bool zero) {
  if (BRK_UNLIKELY(size > size_t(INT64_MAX))) return nullptr;
  int64_t left = tls_prof_left - int64_t(size);
  tls_prof_left = left;
  if (BRK_LIKELY(left > 0)) return nullptr;
  return prof_sample(size, align, zero);
}
// A large block is being freed (free_slow): forget its record if it has one (true if it had).
bool prof_forget_slow(const void* p);
BRK_INLINE void prof_forget(const void* p) {
  if (BRK_UNLIKELY(g_prof_on)) prof_forget_slow(p);
}

// realloc, to the profiler, frees the old block and allocates the new one (api.cc realloc_profiled):
// the countdown for an allocation of `size` (true: sample it), a new sampled block with its record, and
// a record for a block that already has a span of its own (a sampled block resized in place).
bool prof_charge(size_t size);
void* prof_sample_block(size_t size, size_t align, bool zero);
bool prof_record(void* p, size_t size);

}  // namespace brkmalloc

#endif
