// errno of every allocation entry point when it cannot allocate (glibc's tst-malloc-too-large and
// tst-free-errno). Two modes:
//   impossible  sizes no allocator can serve (SIZE_MAX, SIZE_MAX - 4096, PTRDIFF_MAX + 1, PTRDIFF_MAX, and
//               nmemb * size products that overflow);
//   rlimit      valid sizes (256 MiB) under RLIMIT_AS capped at VmSize + 16 MiB.
// Each call must return NULL (posix_memalign: ENOMEM, *out untouched; the throwing operator new:
// std::bad_alloc) with errno == ENOMEM, glibc's behaviour, for posix_memalign too; realloc and
// reallocarray must leave the old block intact and usable. free must keep errno, for a NULL, a small,
// a page-aligned and a large block, and for frees that return memory to the system. Passes iff every
// check holds and the heap works afterwards.
#include <malloc.h>
#include <sys/resource.h>

#include <new>

#include "tests/robust/robust_common.h"

static long g_checks = 0;

static void expect_null(const char* what, size_t size, void* p, int err) {
  g_checks++;
  if (p != NULL) {
    FAILF("%s(%zu) returned %p, expected NULL\n", what, size, p);  // leaked: freeing it could crash some allocators
  } else if (err != ENOMEM) {
    FAILF("%s(%zu) = NULL with errno %d (%s), expected ENOMEM\n", what, size, err, strerror(err));
  }
}

#define CALL(what, size, expr)     \
  do {                             \
    errno = 0;                     \
    void* p_ = (expr);             \
    expect_null(what, size, p_, errno); \
  } while (0)

static int intact(const unsigned char* p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v) return 0;
  return 1;
}

// realloc/reallocarray that must fail leave the block as it was, and it still grows and frees normally.
static void check_realloc_keeps(size_t old_size, size_t size) {
  unsigned char* p = (unsigned char*)malloc(old_size);
  if (p == NULL) {
    FAILF("malloc(%zu) failed\n", old_size);
    return;
  }
  memset(p, 0x3c, old_size);
  CALL("realloc", size, realloc(p, size));
  if (!intact(p, old_size, 0x3c)) FAILF("failed realloc(%zu -> %zu) changed the old block\n", old_size, size);
  CALL("reallocarray(1, n)", size, reallocarray(p, 1, size));
  if (size > 8) CALL("reallocarray(n/8, 8)", size, reallocarray(p, size / 8, 8));
  CALL("reallocarray(overflow)", SIZE_MAX, reallocarray(p, SIZE_MAX / 2 + 1, 2));
  if (!intact(p, old_size, 0x3c))
    FAILF("failed reallocarray(%zu -> %zu) changed the old block\n", old_size, size);
  unsigned char* q = (unsigned char*)realloc(p, old_size + 5000);
  if (q == NULL || !intact(q, old_size, 0x3c)) FAILF("the old block of %zu bytes no longer grows\n", old_size);
  free(q ? q : p);
}

static void check_all(size_t size) {
  CALL("malloc", size, malloc(size));
  CALL("calloc(1, n)", size, calloc(1, size));
  CALL("calloc(n, 1)", size, calloc(size, 1));
  if (size % 16 == 0) CALL("calloc(n/16, 16)", size, calloc(size / 16, 16));
  CALL("memalign(64)", size, memalign(64, size));
  CALL("memalign(4096)", size, memalign(4096, size));
  CALL("aligned_alloc(64)", size, aligned_alloc(64, size & ~(size_t)63));
  CALL("valloc", size, valloc(size));
  CALL("pvalloc", size, pvalloc(size));
  CALL("operator new(nothrow)", size, operator new(size, std::nothrow));
  CALL("operator new[](nothrow)", size, operator new[](size, std::nothrow));
  CALL("operator new(align 64, nothrow)", size, operator new(size, std::align_val_t(64), std::nothrow));

  void* sentinel = (void*)0x5e5e;
  void* out = sentinel;
  errno = 0;
  int rc = posix_memalign(&out, 64, size);
  int err = errno;
  g_checks++;
  if (rc != ENOMEM) FAILF("posix_memalign(64, %zu) returned %d, expected ENOMEM\n", size, rc);
  if (err != ENOMEM) FAILF("posix_memalign(64, %zu) left errno %d, expected ENOMEM (as glibc sets)\n", size, err);
  if (out != sentinel) FAILF("failed posix_memalign(64, %zu) changed *out\n", size);

  g_checks++;
  try {
    void* p = operator new(size);
    FAILF("operator new(%zu) returned %p, expected std::bad_alloc\n", size, p);
  } catch (const std::bad_alloc&) {
  }

  check_realloc_keeps(100, size);
  check_realloc_keeps(300000, size);
}

static void check_overflows() {
  CALL("calloc(overflow)", SIZE_MAX, calloc(SIZE_MAX / 2 + 1, 2));
  CALL("calloc(overflow)", SIZE_MAX, calloc(2, SIZE_MAX / 2 + 1));
  CALL("calloc(overflow)", SIZE_MAX, calloc((size_t)1 << 32, (size_t)1 << 32));
  CALL("reallocarray(NULL, overflow)", SIZE_MAX, reallocarray(NULL, (size_t)1 << 33, (size_t)1 << 31));
  CALL("pvalloc(page rounding overflows)", SIZE_MAX - 100, pvalloc(SIZE_MAX - 100));
}

// free keeps errno, including frees that unmap or purge.
static void check_free_keeps_errno() {
  enum { kSmall = 12000 };
  static void* small[kSmall];
  for (int i = 0; i < kSmall; i++) {
    small[i] = malloc(4000);  // 48 MiB in all: freeing it exceeds any dirty-page cache of tens of MiB
    if (small[i]) memset(small[i], 1, 4000);
  }
  void* blocks[4] = {NULL, malloc(48), memalign(4096, 8192), malloc(2 << 20)};
  const char* names[4] = {"free(NULL)", "free(small)", "free(page-aligned)", "free(2 MiB)"};
  for (int i = 0; i < 4; i++) {
    errno = EDOM;
    free(blocks[i]);
    g_checks++;
    if (errno != EDOM) FAILF("%s changed errno from EDOM to %d\n", names[i], errno);
  }
  int changed = 0;
  for (int i = 0; i < kSmall; i++) {
    errno = ERANGE;
    free(small[i]);
    if (errno != ERANGE) changed++;
  }
  g_checks++;
  if (changed) FAILF("%d of %d frees of 4000-byte blocks (48 MiB, purging) changed errno\n", changed, kSmall);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "impossible";
  void* before = malloc(1000);  // the allocator is initialised before the limit
  memset(before, 1, 1000);
  if (!strcmp(mode, "impossible")) {
    const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX};
    for (size_t s : sizes) check_all(s);
    check_overflows();
    check_free_keeps_errno();
  } else if (!strcmp(mode, "rlimit")) {
    struct rlimit rl;
    size_t vm = vm_size_bytes();
    rl.rlim_cur = rl.rlim_max = vm + (16u << 20);
    if (vm == 0 || setrlimit(RLIMIT_AS, &rl) != 0) {
      FAILF("cannot set RLIMIT_AS: %s\n", strerror(errno));
      return 2;
    }
    check_all(256u << 20);
    check_all((256u << 20) + 12345);
    // free under the cap (its own allocations use the 16 MiB left; not an ENOMEM check).
    void* blocks[3] = {malloc(48), memalign(4096, 8192), malloc(2 << 20)};
    for (int i = 0; i < 3; i++) {
      errno = EDOM;
      free(blocks[i]);
      g_checks++;
      if (errno != EDOM) FAILF("free of block %d under RLIMIT_AS changed errno to %d\n", i, errno);
    }
  } else {
    FAILF("usage: errno_enomem impossible|rlimit\n");
    return 2;
  }
  void* after = malloc(5000);
  if (after == NULL || !intact((unsigned char*)before, 1000, 1)) FAILF("the heap does not work afterwards\n");
  free(after);
  free(before);
  say("info: %s: %ld checks, %d failed\n", mode, g_checks, g_failures);
  return g_failures ? 1 : 0;
}
