// The heap profiler's sampling, its hooks into the allocator and its triggers (see prof.h for the design).
#include "allocator/prof.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "allocator/brkmalloc.h"
#include "allocator/fork_child.h"
#include "allocator/large.h"
#include "allocator/options.h"
#include "allocator/os.h"
#include "allocator/prof_dump.h"
#include "allocator/prof_math.h"
#include "allocator/prof_table.h"

// Around every function of the section (linker-made); hidden, so the .so binds its own.
extern "C" {
extern const char __start_brk_alloc_path[] __attribute__((visibility("hidden")));
extern const char __stop_brk_alloc_path[] __attribute__((visibility("hidden")));
}

namespace brkmalloc {

bool g_prof_on = false;
__thread int64_t tls_prof_left BRK_TLS;
ProfState g_prof;

namespace {

__thread bool tls_prof_seeded BRK_TLS;
__thread bool tls_prof_busy BRK_TLS;  // in the profiler: no sampling, no lock (prof.h "Reentrancy")
__thread uint64_t tls_prof_rng BRK_TLS;
bool g_prof_started = false;
bool g_dump_pending = false;  // a dump asked for while its thread was busy

// xorshift64*: a sampling interval needs no better randomness.
uint64_t next_random() {
  uint64_t x = tls_prof_rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  tls_prof_rng = x;
  return x * 0x2545f4914f6cdd1dull;
}

// Exponentially distributed with mean g_prof.rate, at least 1.
BRK_ALLOC_PATH int64_t draw_interval() {
  double u = double((next_random() >> 11) + 1) * (1.0 / 9007199254740992.0);  // (0, 1]
  double v = prof_neg_log(u) * double(g_prof.rate);
  if (v > 1e15) v = 1e15;
  return int64_t(v) + 1;
}

void seed_thread() {
  uint64_t local = reinterpret_cast<uintptr_t>(&tls_prof_rng);
  tls_prof_rng = (local * 0x9e3779b97f4a7c15ull) ^ __builtin_ia32_rdtsc() ^ (uint64_t(getpid()) << 32);
  if (!tls_prof_rng) tls_prof_rng = 0x853c49e6748fea9bull;
  tls_prof_seeded = true;
}

// The caller's stack without the allocator's frames (every one of them is in brk_alloc_path).
BRK_ALLOC_PATH unsigned capture(uintptr_t* out) {
  void* raw[kProfMaxFrames + 16];
  int n = backtrace(raw, int(sizeof raw / sizeof raw[0]));
  int i = 0;
  auto ours = [](void* a) {
    const char* c = static_cast<const char*>(a);
    return c >= __start_brk_alloc_path && c < __stop_brk_alloc_path;
  };
  while (i < n && ours(raw[i])) ++i;
  unsigned depth = 0;
  for (; i < n && depth < kProfMaxFrames; ++i) out[depth++] = reinterpret_cast<uintptr_t>(raw[i]);
  return depth;
}

void account(ProfStack* st, const ProfSample& s, int sign) {
  st->live_n += uint64_t(sign);
  st->live_bytes += uint64_t(sign) * s.size;
  st->live_est += sign * s.weight;
  g_prof.live_est += sign * s.weight;
}

// A sample's own estimate: the bytes it stands for.
double weight_of(size_t size) {
  double x = double(size) / double(g_prof.rate);
  return double(size) / prof_one_minus_exp_neg(x);
}

void dump_numbered_locked() {
  char path[sizeof g_options.profile_prefix + 48];
  if (!prof_numbered_path(path, sizeof path)) return;
  prof_write_profile_file(path);
}

// Leaves the profiler: a dump a signal asked for meanwhile is done now.
void leave() {
  tls_prof_busy = false;
  if (__atomic_load_n(&g_dump_pending, __ATOMIC_RELAXED) && __atomic_exchange_n(&g_dump_pending, false, __ATOMIC_ACQ_REL)) {
    tls_prof_busy = true;
    g_prof_lock.lock();
    dump_numbered_locked();
    g_prof_lock.unlock();
    tls_prof_busy = false;
  }
}

void on_signal(int) {
  int saved = errno;
  if (tls_prof_busy) {
    __atomic_store_n(&g_dump_pending, true, __ATOMIC_RELEASE);
  } else if (!fork_child_stuck()) {
    tls_prof_busy = true;
    g_prof_lock.lock();
    dump_numbered_locked();
    g_prof_lock.unlock();
    leave();
  }
  errno = saved;
}

void at_exit() {
  if (fork_child_stuck() || tls_prof_busy) return;
  tls_prof_busy = true;
  g_prof_lock.lock();
  if (g_options.profile_prefix[0]) dump_numbered_locked();
  if (g_options.leaks[0]) prof_write_leaks();
  g_prof_lock.unlock();
  tls_prof_busy = false;
}

}  // namespace

void prof_init() {
  g_prof_on = g_options.profile_prefix[0] || g_options.leaks[0];
  g_prof.rate = g_options.profile_rate ? g_options.profile_rate : 1;
  g_prof.interval = g_options.profile_interval;
  g_prof.next_dump = double(g_prof.interval);
}

void prof_start() {
  static bool done = false;
  if (!g_prof_on || done) return;
  done = true;
  // backtrace()'s first call dlopens libgcc_s (and allocates): done here, where that is safe, and busy
  // so that those allocations are not sampled.
  tls_prof_busy = true;
  void* prime[4];
  backtrace(prime, 4);
  tls_prof_busy = false;
  prof_dump_init();
  if (int sig = g_options.profile_signal) {
    struct sigaction sa = {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
  }
  atexit(at_exit);
  __atomic_store_n(&g_prof_started, true, __ATOMIC_RELEASE);
}

void prof_fork_child() { g_prof.seq = 0; }

namespace {

// The countdown ran out: a new interval, and whether this allocation is sampled.
BRK_ALLOC_PATH bool expired(size_t size) {
  if (BRK_UNLIKELY(!tls_prof_seeded)) {
    // The countdown starts at this thread's first allocation (memoryless: as good a start as any).
    seed_thread();
    tls_prof_left = draw_interval() - int64_t(size);
    if (tls_prof_left > 0) return false;
  }
  tls_prof_left = draw_interval();
  return size != 0 && !tls_prof_busy && __atomic_load_n(&g_prof_started, __ATOMIC_ACQUIRE) && !fork_child_stuck();
}

// Records block p (a span of its own) as a sample of `size` bytes allocated from the caller's stack.
BRK_ALLOC_PATH void record(void* p, size_t size, const uintptr_t* frames, unsigned depth) {
  {
    ProfSample s{reinterpret_cast<uintptr_t>(p), kProfNoStack, size, weight_of(size)};
    g_prof_lock.lock();
    s.stack = prof_stack_intern(frames, depth);
    ProfSample old;
    if (s.stack != kProfNoStack && prof_sample_insert(s, &old)) {
      if (old.addr) account(prof_stack_at(old.stack), old, -1);  // its free was missed (prof.h)
      ProfStack* st = prof_stack_at(s.stack);
      account(st, s, 1);
      st->total_n++;
      st->total_bytes += size;
      if (g_prof.interval && g_options.profile_prefix[0] && g_prof.live_est >= g_prof.next_dump) {
        dump_numbered_locked();
        g_prof.next_dump = g_prof.live_est + double(g_prof.interval);
      }
    }
    g_prof_lock.unlock();
  }
}

}  // namespace

BRK_ALLOC_PATH void* prof_sample(size_t size, size_t align, bool zero) {
  if (!expired(size)) return nullptr;
  return prof_sample_block(size, align, zero);
}

BRK_ALLOC_PATH bool prof_charge(size_t size) {
  if (size > size_t(INT64_MAX)) return false;
  tls_prof_left -= int64_t(size);
  return tls_prof_left <= 0 && expired(size);
}

BRK_ALLOC_PATH void* prof_sample_block(size_t size, size_t align, bool zero) {
  if (tls_prof_busy) return nullptr;
  tls_prof_busy = true;
  uintptr_t frames[kProfMaxFrames];
  unsigned depth = capture(frames);
  void* p = large_alloc(size, align, zero);  // a span of its own: its free reaches free_slow
  if (p) record(p, size, frames, depth);
  leave();
  return p;
}

BRK_ALLOC_PATH bool prof_record(void* p, size_t size) {
  if (tls_prof_busy) return false;
  tls_prof_busy = true;
  uintptr_t frames[kProfMaxFrames];
  unsigned depth = capture(frames);
  record(p, size, frames, depth);
  leave();
  return true;
}

bool prof_forget_slow(const void* p) {
  if (tls_prof_busy) return false;  // a handler on a thread inside the profiler: the record goes stale
  tls_prof_busy = true;
  g_prof_lock.lock();
  ProfSample s;
  bool had = prof_sample_remove(reinterpret_cast<uintptr_t>(p), &s);
  if (had) account(prof_stack_at(s.stack), s, -1);
  g_prof_lock.unlock();
  leave();
  return had;
}

}  // namespace brkmalloc

using namespace brkmalloc;

extern "C" int brk_prof_dump(const char* path) noexcept {
  if (!g_prof_on || !__atomic_load_n(&g_prof_started, __ATOMIC_ACQUIRE)) {
    errno = EINVAL;
    return -1;
  }
  if (tls_prof_busy || fork_child_stuck()) {
    errno = EAGAIN;
    return -1;
  }
  tls_prof_busy = true;
  g_prof_lock.lock();
  int rc = 0;
  char numbered[sizeof g_options.profile_prefix + 48];
  if (!path) {
    if (!g_options.profile_prefix[0]) {
      rc = -1;
      errno = EINVAL;
    } else if (!prof_numbered_path(numbered, sizeof numbered)) {
      rc = -1;
      errno = ENAMETOOLONG;
    } else {
      path = numbered;
    }
  }
  if (path && !prof_write_profile_file(path)) rc = -1;  // errno from open/write
  int saved = errno;
  g_prof_lock.unlock();
  leave();
  errno = saved;
  return rc;
}
