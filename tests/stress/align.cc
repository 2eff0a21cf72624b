// align: posix_memalign, aligned_alloc, memalign, valloc, pvalloc and aligned operator new (plain, nothrow,
// freed by aligned and by sized+aligned delete) at every power-of-two alignment from 1 B to 64 MiB, with
// assorted sizes (tiny, page, across 128 KiB, and alignment-1/alignment/alignment+1/1.5*alignment up to 1 MiB).
// Every block must be aligned, writable over its full size (pvalloc: the size rounded up to a page, 0 stays 0), keep its
// pattern while the others of its alignment are live among plain malloc blocks, and free cleanly.
// pvalloc: STRESS_NO_PVALLOC=1 leaves it out (Debian's jemalloc does not export it: glibc's pvalloc would hand
// out a block that jemalloc's free then crashes on); the program says so in its output.
// Size-0 aligned requests: STRESS_NO_ALIGNED_ZERO=1 leaves out memalign(a, 0) and valloc(0), and frees
// operator new(0, align) with the unsized aligned delete only. Debian's jemalloc 5.3.0 gets these wrong (bogus
// misaligned pointers from memalign/valloc of 0, fixed upstream by jemalloc PR #2606; a size-0 sized aligned
// delete goes to the wrong size class, jemalloc PR #2991), and its heap is corrupted. The program says so.
// Known baseline bug, tolerated only when named: STRESS_TOLERATE_MIMALLOC_700=1 (see stress_common.h); the
// program counts and prints every tolerated case.
// Error paths: posix_memalign with a bad alignment (not a power of two, or below sizeof(void*)) returns EINVAL
// and leaves *out alone (POSIX; checked for every allocator). With --strict (glibc, brkmalloc): memalign with a
// non-power-of-two alignment rounds it up to the next power of two. With --expect-brkmalloc (brkmalloc's
// README): aligned_alloc with a non-power-of-two or zero alignment gives NULL + EINVAL (glibc 2.36 itself
// accepts it and rounds up, so this is not checked for glibc).
#include <new>
#include <thread>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

enum Fn { kPosix, kAligned, kMemalign, kValloc, kPvalloc, kNew, kNewNothrow, kNumFn };
const char* kFnName[] = {"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc", "operator new(align)",
                         "operator new(align, nothrow)"};

bool g_no_pvalloc = false, g_no_aligned0 = false;
size_t g_page = 4096;

struct Block {
  void* p;
  size_t n;        // bytes we may write
  size_t req;      // requested size
  size_t align;
  Fn fn;
  bool sized_delete;
};

bool allocate(Rng& r, Fn fn, size_t a, size_t n, Block* out) {
  void* p = nullptr;
  size_t writable = n, need = a;
  switch (fn) {
    case kPosix: {
      if (a < sizeof(void*)) return false;
      int rc = posix_memalign(&p, a, n);
      if (rc) fail("posix_memalign(%zu, %zu) returned %d", a, n, rc);
      break;
    }
    case kAligned: p = aligned_alloc(a, n); break;
    case kMemalign:
      if (n == 0 && g_no_aligned0) return false;
      p = memalign(a, n);
      break;
    case kValloc:
      if (a != g_page || (n == 0 && g_no_aligned0)) return false;
      p = valloc(n);
      break;
    case kPvalloc:
      if (a != g_page || g_no_pvalloc) return false;
      p = pvalloc(n);
      writable = (n + g_page - 1) / g_page * g_page;  // pvalloc(0): glibc gives a minimum block, not a page
      break;
    case kNew: p = ::operator new(n, std::align_val_t(a)); break;
    case kNewNothrow: p = ::operator new(n, std::align_val_t(a), std::nothrow); break;
    default: return false;
  }
  if (!p) fail("%s(alignment %zu, size %zu) returned NULL", kFnName[fn], a, n);
  if ((uintptr_t)p % need) {
    if (!tolerate_misaligned(a, n)) fail("%s(alignment %zu, size %zu) = %p is misaligned", kFnName[fn], a, n, p);
  } else {
    check_align(p, n ? n : 1, kFnName[fn]);
  }
  if (fn != kNew && fn != kNewNothrow) {
    size_t u = malloc_usable_size(p);
    if (u < writable) fail("%s(%zu, %zu) = %p: usable size %zu < %zu", kFnName[fn], a, n, p, u, writable);
  }
  fill(p, writable);
  *out = Block{p, writable, n, a, fn, r.chance(50)};
  return true;
}

void release(Block& b) {
  check(b.p, b.n, kFnName[b.fn]);
  if (b.fn == kNew) {
    if (b.sized_delete && !(b.req == 0 && g_no_aligned0)) ::operator delete(b.p, b.req, std::align_val_t(b.align));
    else ::operator delete(b.p, std::align_val_t(b.align));
  } else if (b.fn == kNewNothrow) {
    ::operator delete(b.p, std::align_val_t(b.align), std::nothrow);
  } else {
    free(b.p);
  }
}

void sweep(int t, size_t rounds, std::atomic<uint64_t>* count) {
  Rng r(g_opt.seed * 65537 + (uint64_t)t);
  uint64_t n_blocks = 0;
  for (size_t round = 0; round < rounds; round++) {
    for (size_t a = 1; a <= (64u << 20); a <<= 1) {
      std::vector<size_t> sizes = {0, 1, 8, 24, 100, 4096, 65537, 200000, (size_t)r.range(1, 300000)};
      if (a <= (1u << 20)) {
        sizes.push_back(a > 1 ? a - 1 : 1);
        sizes.push_back(a);
        sizes.push_back(a + 1);
        sizes.push_back(a + a / 2);
      } else {
        sizes.push_back((1u << 20) + 1);
      }
      std::vector<Block> live;
      std::vector<std::pair<void*, size_t>> fillers;
      for (int f = 0; f < kNumFn; f++) {
        for (size_t n : sizes) {
          Block b;
          if (allocate(r, (Fn)f, a, n, &b)) live.push_back(b);
          size_t fn_ = (size_t)r.range(1, 200);  // a plain block in between, to fragment
          void* q = malloc(fn_);
          if (!q) fail("malloc(%zu) returned NULL", fn_);
          fill(q, fn_);
          fillers.push_back({q, fn_});
        }
      }
      // Free in random order, fillers too.
      for (size_t i = live.size(); i > 1; i--) std::swap(live[i - 1], live[r.below(i)]);
      for (Block& b : live) release(b);
      for (auto& q : fillers) {
        check(q.first, q.second, "filler");
        free(q.first);
      }
      n_blocks += live.size();
    }
  }
  count->fetch_add(n_blocks);
}

void error_paths() {
  const size_t bad_posix[] = {0, 3, 24, sizeof(void*) / 2, 48};
  for (size_t a : bad_posix) {
    void* out = (void*)0x1234;
    int rc = posix_memalign(&out, a, 64);
    if (rc != EINVAL) fail("posix_memalign(alignment %zu) returned %d, expected EINVAL", a, rc);
    if (out != (void*)0x1234) fail("posix_memalign(alignment %zu) failed but changed *out", a);
  }
  const size_t bad[] = {3, 24, 48, 1000, 4097};
  if (g_opt.strict || g_opt.expect_brkmalloc) {
    for (size_t a : bad) {
      size_t up = 1;
      while (up < a) up <<= 1;
      void* p = memalign(a, 2 * a);
      if (!p) fail("memalign(%zu, %zu) returned NULL; expected the alignment rounded up to %zu", a, 2 * a, up);
      if ((uintptr_t)p % up) fail("memalign(%zu, %zu) = %p is not aligned to %zu (the alignment rounded up)", a, 2 * a, p, up);
      fill(p, 2 * a);
      check(p, 2 * a, "memalign with a rounded-up alignment");
      free(p);
    }
  }
  if (!g_opt.expect_brkmalloc) return;
  for (size_t a : bad) {
    errno = 0;
    void* p = aligned_alloc(a, 2 * a);
    if (p || errno != EINVAL) fail("aligned_alloc(%zu, %zu) = %p errno %d, expected NULL + EINVAL", a, 2 * a, p, errno);
  }
  errno = 0;
  void* p = aligned_alloc(0, 16);
  if (p || errno != EINVAL) fail("aligned_alloc(0, 16) = %p errno %d, expected NULL + EINVAL", p, errno);
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("align", argc, argv);
  g_page = (size_t)sysconf(_SC_PAGESIZE);
  const char* e = getenv("STRESS_NO_PVALLOC");
  g_no_pvalloc = e && *e && strcmp(e, "0") != 0;
  if (g_no_pvalloc) note("pvalloc NOT tested (STRESS_NO_PVALLOC=%s: the allocator does not provide it)", e);
  e = getenv("STRESS_NO_ALIGNED_ZERO");
  g_no_aligned0 = e && *e && strcmp(e, "0") != 0;
  if (g_no_aligned0) note("memalign(a, 0), valloc(0), sized aligned delete of size 0 NOT tested (STRESS_NO_ALIGNED_ZERO=%s: known "
                            "allocator bug)", e);
  size_t threads = thread_knob(2, 2), rounds = knob(1, 100);
  note("%zu threads x %zu sweeps of alignments 1 B .. 64 MiB", threads, rounds);
  error_paths();
  std::atomic<uint64_t> count{0};
  std::vector<std::thread> ts;
  for (size_t i = 0; i < threads; i++) ts.emplace_back(sweep, (int)i, rounds, &count);
  for (auto& t : ts) t.join();
  if (tolerated_misaligned_count())
    note("KNOWN BASELINE BUG: %llu misaligned blocks tolerated (mimalloc issue #700)",
         (unsigned long long)tolerated_misaligned_count());
  note("PASS: %llu aligned blocks%s", (unsigned long long)count.load(), g_opt.expect_brkmalloc ? ", posix_memalign/aligned_alloc/memalign error paths checked" : g_opt.strict ? ", posix_memalign/memalign error paths checked" : ", posix_memalign error paths checked");
  return 0;
}
