// Linux implementation of the OS layer (see os.h for the contract of each call).
#include "allocator/os.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "allocator/config.h"

namespace brkmalloc {
namespace os {

namespace {

std::atomic<size_t> g_mappings{0};

// Maps size bytes at an address aligned to `align` by over-mapping and trimming both ends.
void* mmap_aligned(size_t size, size_t align, int prot, int flags) {
  int saved = errno;  // the API decides what errno callers see
  if (align <= kPageSize) {
    void* p = mmap(nullptr, size, prot, flags, -1, 0);
    errno = saved;
    if (p == MAP_FAILED) return nullptr;
    g_mappings.fetch_add(1, std::memory_order_relaxed);
    return p;
  }
  size_t span = size + align - kPageSize;
  if (span < size) return nullptr;
  void* raw = mmap(nullptr, span, prot, flags, -1, 0);
  if (raw == MAP_FAILED) { errno = saved; return nullptr; }
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = align_up(start, align);
  uintptr_t end = aligned + size, raw_end = start + span;
  // A trim can fail (the split would pass vm.max_map_count): then nothing is kept, not a mapping larger
  // than we account for.
  if ((aligned > start && munmap(raw, aligned - start) != 0) ||
      (raw_end > end && munmap(reinterpret_cast<void*>(end), raw_end - end) != 0)) {
    munmap(raw, span);  // unmapping a part already unmapped is not an error
    errno = saved;
    return nullptr;
  }
  g_mappings.fetch_add(1, std::memory_order_relaxed);
  errno = saved;
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

void* reserve(size_t size, size_t align) {
  return mmap_aligned(size, align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
}

bool commit(void* p, size_t size) {
  int saved = errno;
  bool ok = mprotect(p, size, PROT_READ | PROT_WRITE) == 0;
  errno = saved;
  return ok;
}

void decommit(void* p, size_t size) {
  int saved = errno;
  madvise(p, size, MADV_DONTNEED);
  mprotect(p, size, PROT_NONE);
  errno = saved;
}

void purge(void* p, size_t size) {
  int saved = errno;
  madvise(p, size, MADV_DONTNEED);  // not MADV_FREE: users watch RSS, which MADV_FREE leaves high
  errno = saved;
}

void* map(size_t size, size_t align) {
  return mmap_aligned(size, align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
}

void unmap(void* p, size_t size) {
  int saved = errno;
  munmap(p, size);
  errno = saved;
}

bool protect(void* p, size_t size, bool accessible) {
  int saved = errno;
  bool ok = mprotect(p, size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
  errno = saved;
  return ok;
}

size_t mappings_created() { return g_mappings.load(std::memory_order_relaxed); }

void* remap(void* p, size_t old_size, size_t new_size) {
  int saved = errno;
  void* q = mremap(p, old_size, new_size, MREMAP_MAYMOVE);
  errno = saved;
  return q == MAP_FAILED ? nullptr : q;
}

bool advise_hugepages(void* p, size_t size) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;  // x86-64's transparent huge page
  uintptr_t start = align_up(reinterpret_cast<uintptr_t>(p), kHuge);
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + size) & ~(kHuge - 1);
  if (end <= start) return false;
  int saved = errno;
  bool ok = madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE) == 0;
  errno = saved;
  return ok;
}

void wait_on(const uint32_t* word, uint32_t expected, uint64_t timeout_ms) {
  int saved = errno;
  struct timespec ts = {time_t(timeout_ms / 1000), long(timeout_ms % 1000) * 1000000};
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, timeout_ms == ~uint64_t{0} ? nullptr : &ts, nullptr, 0);
  errno = saved;
}

void wake(const uint32_t* word) {
  int saved = errno;
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  errno = saved;
}

size_t resident_bytes() {
  int saved = errno;
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { errno = saved; return 0; }
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  errno = saved;
  if (n <= 0) return 0;
  buf[n] = 0;
  // Second field: resident pages.
  const char* s = buf;
  while (*s && *s != ' ') ++s;
  while (*s == ' ') ++s;
  size_t pages = 0;
  while (*s >= '0' && *s <= '9') pages = pages * 10 + size_t(*s++ - '0');
  return pages * size_t(sysconf(_SC_PAGESIZE));
}

uint64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

}  // namespace os
}  // namespace brkmalloc
