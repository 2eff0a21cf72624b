// Out-of-memory behaviour of every allocation entry point. For one entry point (argv[1]) or, with no argument,
// each in a forked child: cap the address space (RLIMIT_AS) slightly above the current VmSize, use up the
// heap with 120 KiB blocks (see fill_heap), allocate until
// the entry point fails, and require a clean failure (NULL + errno ENOMEM, std::bad_alloc, nullptr, or the
// ENOMEM return of posix_memalign), no crash, a heap that still works (free the older half, allocate again), and for
// realloc/reallocarray an old block left intact. Exit status 0 iff every checked entry point behaved.
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <new>

namespace {

constexpr size_t kHeadroom = 64u << 20;       // address space allowed above VmSize at the start
constexpr size_t kMaxBlocks = 48u << 20;      // pointer slots (mapped before the limit is set, touched as used)
constexpr size_t kGiveUpBytes = 4ull << 30;   // requested bytes after which "never failed" is a failure

void** g_slots = nullptr;
char g_msg[512];

// printf to stderr through a static buffer and write(2): no allocation.
__attribute__((format(printf, 1, 2))) void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(g_msg, sizeof g_msg, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof g_msg - 1) n = (int)sizeof g_msg - 1;
  if (n > 0) {
    ssize_t w = write(2, g_msg, (size_t)n);
    (void)w;
  }
}

// VmSize in bytes, read without allocating.
size_t vm_size() {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* line = strstr(buf, "VmSize:");
  if (line == nullptr) return 0;
  return strtoull(line + 7, nullptr, 10) * 1024;
}

bool cap_address_space() {
  size_t now = vm_size();
  if (now == 0) {
    say("cannot read VmSize\n");
    return false;
  }
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = now + kHeadroom;
  if (setrlimit(RLIMIT_AS, &rl) != 0) {
    say("setrlimit failed\n");
    return false;
  }
  return true;
}

// One allocation entry point: allocate a block (nullptr on failure, with *err the error it reported),
// release a block.
struct Entry {
  const char* name;
  size_t size;  // bytes per call, for the give-up bound
  void* (*alloc)(int* err);
  void (*release)(void*);
  bool zeroed;  // blocks must read as zero
};

void* wrap_errno(void* p, int* err) {
  *err = p ? 0 : errno;
  return p;
}

char g_text[3001];

const Entry kEntries[] = {
    {"malloc_small", 64, [](int* e) { errno = 0; return wrap_errno(malloc(64), e); }, free, false},
    {"malloc_large", 300 << 10, [](int* e) { errno = 0; return wrap_errno(malloc(300 << 10), e); }, free, false},
    {"calloc", 16 << 10, [](int* e) { errno = 0; return wrap_errno(calloc(16, 1024), e); }, free, true},
    {"reallocarray_new", 4096, [](int* e) { errno = 0; return wrap_errno(reallocarray(nullptr, 64, 64), e); }, free,
     false},
    {"posix_memalign", 3000,
     [](int* e) {
       void* p = nullptr;
       int rc = posix_memalign(&p, 256, 3000);
       *e = rc;
       return rc == 0 ? p : nullptr;
     },
     free, false},
    {"aligned_alloc", 1024, [](int* e) { errno = 0; return wrap_errno(aligned_alloc(64, 1000), e); }, free, false},
    {"memalign", 10000, [](int* e) { errno = 0; return wrap_errno(memalign(4096, 10000), e); }, free, false},
    {"valloc", 5000, [](int* e) { errno = 0; return wrap_errno(valloc(5000), e); }, free, false},
    {"strdup", 3001, [](int* e) { errno = 0; return wrap_errno(strdup(g_text), e); }, free, false},
    {"operator_new",
     64 << 10,
     [](int* e) -> void* {
       try {
         char* p = new char[64 << 10];
         *e = 0;
         return p;
       } catch (const std::bad_alloc&) {
         *e = ENOMEM;  // the C++ way of saying ENOMEM
         return nullptr;
       }
     },
     [](void* p) { delete[] static_cast<char*>(p); }, false},
    {"nothrow_new",
     64 << 10,
     [](int* e) -> void* {
       char* p = new (std::nothrow) char[64 << 10];
       *e = p ? 0 : ENOMEM;
       return p;
     },
     [](void* p) { delete[] static_cast<char*>(p); }, false},
};

// Allocates until failure; returns the number of live blocks in g_slots, or -1 on a failed check.
long exhaust(const Entry& en) {
  size_t count = 0;
  for (;;) {
    if (count >= kMaxBlocks || (unsigned long long)count * en.size > kGiveUpBytes) {
      say("%s: never failed under RLIMIT_AS (gave up after %zu blocks)\n", en.name, count);
      return -1;
    }
    int err = -1;
    void* p = en.alloc(&err);
    if (p == nullptr) {
      if (err != ENOMEM) {
        say("%s: failed with error %llu, expected ENOMEM\n", en.name, (unsigned long long)err);
        return -1;
      }
      break;
    }
    // Every 64th block is checked and written (all of them would fault in every page: slow, and not needed
    // to reach the limit, which counts address space).
    char* c = static_cast<char*>(p);
    if (count % 64 == 0) {
      if (en.zeroed && (c[0] != 0 || c[en.size - 1] != 0)) {
        say("%s: block not zeroed\n", en.name);
        return -1;
      }
      c[0] = 1;
    }
    g_slots[count++] = p;
  }
  return (long)count;  // may be 0: the filler left no room for even one block, and it failed cleanly
}

// Fills the address space left under the cap with 120 KiB blocks (just below the 128 KiB threshold, so
// they come from the allocator's heap/arenas, untouched). An allocator that reserved a large arena before
// the cap was set (brkmalloc reserves 1 GiB up front) would otherwise hand out up to that much more memory
// before failing, which takes many seconds of page faults; with the arena used up, the entry point under
// test meets the cap soon. Returns the number of filler blocks (in g_filler).
void** g_filler = nullptr;
constexpr size_t kMaxFiller = 1u << 16;  // 7.5 GiB of 120 KiB blocks

size_t fill_heap() {
  size_t n = 0;
  while (n < kMaxFiller) {
    void* p = malloc(120 << 10);
    if (p == nullptr) break;
    g_filler[n++] = p;
  }
  // Give the last 2 MiB back, so the entry point under test still gets some blocks before it fails.
  for (int i = 0; i < 16 && n > 0; i++) free(g_filler[--n]);
  return n;
}

void release_filler(size_t n) {
  for (size_t i = 0; i < n; i++) free(g_filler[i]);
}

bool run_entry(const Entry& en) {
  int warm = 0;
  for (int i = 0; i < 3; i++) en.release(en.alloc(&warm));  // warm up the allocator's paths for this request
  if (!cap_address_space()) return false;
  size_t filler = fill_heap();
  long count = exhaust(en);
  if (count < 0) return false;
  // The heap must still work: free the older half of the blocks (and of the filler), then the same request
  // must succeed again.
  long half = count / 2;
  for (long i = 0; i < half; i++) en.release(g_slots[i]);
  release_filler(filler / 2);
  int err = 0;
  void* again = en.alloc(&err);
  bool ok = again != nullptr;
  if (!ok) say("%s: allocation failed again after freeing half (error %llu)\n", en.name, (unsigned long long)err);
  else en.release(again);
  for (long i = half; i < count; i++) en.release(g_slots[i]);
  void* small = malloc(32);
  if (small == nullptr) {
    say("%s: malloc(32) failed after freeing everything\n", en.name);
    ok = false;
  }
  free(small);
  for (size_t i = filler / 2; i < filler; i++) free(g_filler[i]);
  void* after = malloc(200);
  if (after == nullptr) {
    say("%s: malloc(200) failed after freeing everything\n", en.name);
    ok = false;
  }
  free(after);
  if (ok)
    say("%s: ok (%llu blocks, after %zu filler blocks of 120 KiB, before ENOMEM)\n", en.name,
        (unsigned long long)count, filler);
  return ok;
}

// realloc / reallocarray growing a small block to a large one: succeeds while there is room, then fails
// cleanly once the address space is exhausted, leaving the old block's contents intact.
bool run_grow(const char* name, bool use_array) {
  auto grow = [use_array](void* p, size_t n) {
    return use_array ? reallocarray(p, n / 1024, 1024) : realloc(p, n);
  };
  auto pattern = [](size_t i) { return (char)(i * 131 + 7); };
  char* s = static_cast<char*>(malloc(100));
  for (size_t i = 0; i < 100; i++) s[i] = pattern(i);
  if (!cap_address_space()) return false;
  // small -> large succeeds while memory remains.
  char* g = static_cast<char*>(grow(s, 200 << 10));
  if (g == nullptr) {
    say("%s: small->large grow failed before exhaustion\n", name);
    return false;
  }
  for (size_t i = 0; i < 100; i++)
    if (g[i] != pattern(i)) {
      say("%s: grow lost contents at byte %zu\n", name, i);
      return false;
    }
  for (size_t i = 0; i < (200 << 10); i++) g[i] = pattern(i);
  char* small = static_cast<char*>(malloc(100));
  if (small == nullptr) return false;
  for (size_t i = 0; i < 100; i++) small[i] = pattern(i + 5);
  // Exhaust with 1 MiB blocks.
  size_t count = 0;
  for (;;) {
    if (count >= kMaxBlocks || count > (kGiveUpBytes >> 20)) {
      say("%s: 1 MiB mallocs never failed under RLIMIT_AS\n", name);
      return false;
    }
    void* p = malloc(1 << 20);
    if (p == nullptr) break;
    static_cast<char*>(p)[0] = 1;
    g_slots[count++] = p;
  }
  bool ok = true;
  // small -> large and large -> larger must now fail with ENOMEM and keep the old blocks.
  errno = 0;
  void* r1 = grow(small, 1 << 20);
  int e1 = errno;
  errno = 0;
  void* r2 = grow(g, 8 << 20);
  int e2 = errno;
  if (r1 != nullptr || e1 != ENOMEM) {
    say("%s: small->1MiB after exhaustion returned %s, errno %llu (expected NULL, ENOMEM)\n", name,
        r1 ? "non-NULL" : "NULL", (unsigned long long)e1);
    ok = false;
    if (r1 != nullptr) small = static_cast<char*>(r1);
  }
  if (r2 != nullptr || e2 != ENOMEM) {
    say("%s: 200KiB->8MiB after exhaustion returned %s, errno %llu (expected NULL, ENOMEM)\n", name,
        r2 ? "non-NULL" : "NULL", (unsigned long long)e2);
    ok = false;
    if (r2 != nullptr) g = static_cast<char*>(r2);
  }
  for (size_t i = 0; i < 100; i++)
    if (small[i] != pattern(i + 5)) {
      say("%s: failed grow damaged the small block at byte %zu\n", name, i);
      ok = false;
      break;
    }
  for (size_t i = 0; i < (200 << 10); i++)
    if (g[i] != pattern(i)) {
      say("%s: failed grow damaged the large block at byte %zu\n", name, i);
      ok = false;
      break;
    }
  // After freeing half, the small -> large grow succeeds and keeps the contents.
  for (size_t i = 0; i < count / 2; i++) free(g_slots[i]);
  char* r3 = static_cast<char*>(grow(small, 1 << 20));
  if (r3 == nullptr) {
    say("%s: small->1MiB failed after freeing half\n", name);
    ok = false;
    free(small);
  } else {
    for (size_t i = 0; i < 100; i++)
      if (r3[i] != pattern(i + 5)) {
        say("%s: grow after recovery lost contents at byte %zu\n", name, i);
        ok = false;
        break;
      }
    free(r3);
  }
  for (size_t i = count / 2; i < count; i++) free(g_slots[i]);
  free(g);
  if (ok) say("%s: ok (%llu MiB blocks before ENOMEM)\n", name, (unsigned long long)count);
  return ok;
}

bool run_named(const char* name) {
  if (strcmp(name, "realloc_grow") == 0) return run_grow(name, false);
  if (strcmp(name, "reallocarray_grow") == 0) return run_grow(name, true);
  for (const Entry& en : kEntries)
    if (strcmp(en.name, name) == 0) return run_entry(en);
  say("unknown entry point %s\n", name);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  memset(g_text, 'a', sizeof g_text - 1);
  void* slots = mmap(nullptr, kMaxBlocks * sizeof(void*), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (slots == MAP_FAILED) return 2;
  g_slots = static_cast<void**>(slots);
  g_filler = static_cast<void**>(mmap(nullptr, kMaxFiller * sizeof(void*), PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (g_filler == MAP_FAILED) return 2;
  if (argc > 1) return run_named(argv[1]) ? 0 : 1;
  // Every entry point, each in its own child process.
  const char* names[sizeof kEntries / sizeof kEntries[0] + 2];
  size_t n = 0;
  for (const Entry& en : kEntries) names[n++] = en.name;
  names[n++] = "realloc_grow";
  names[n++] = "reallocarray_grow";
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) _exit(run_named(names[i]) ? 0 : 1);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failed++;
      if (WIFSIGNALED(status)) say("%s: FAILED, killed by signal %d\n", names[i], WTERMSIG(status));
      else say("%s: FAILED\n", names[i]);
    }
  }
  say("oom: %zu passed, %d failed\n", n - (size_t)failed, failed);
  return failed == 0 ? 0 : 1;
}
