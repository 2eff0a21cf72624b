// Not a misuse: what a correct program does that the hardened mode must let through unchanged. calloc of
// huge counts (NULL and ENOMEM on overflow, zeroed memory otherwise), growth by realloc with contents kept,
// sized and aligned delete with the right size and alignment, big blocks written to their last byte,
// malloc(0) freed and resized, malloc_usable_size, threads freeing each other's blocks, fork, malloc_trim.
// Exits 0 and writes nothing to stderr, under every allocator and mode; prints "benign=ok" at the end.
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>
#include <new>

#include "tests/misuse/misuse_common.h"

static int g_failed;
#define EXPECT(cond)                                                   \
  do {                                                                 \
    if (!(cond)) {                                                     \
      report_line("failed", #cond);                                    \
      g_failed = 1;                                                    \
    }                                                                  \
  } while (0)

static void* worker(void* arg) {
  char** slots = static_cast<char**>(arg);
  for (int i = 0; i < 20000; i++) {
    int k = i % 64;
    free(slots[k]);  // blocks of the other thread at first, then our own
    slots[k] = static_cast<char*>(malloc(16 + (i % 300)));
    if (slots[k]) memset(slots[k], i & 0xff, 16 + (i % 300));
  }
  return nullptr;
}

int main() {
  // calloc: overflowing counts fail cleanly, huge but valid ones are zero.
  errno = 0;
  EXPECT(calloc(size_t(1) << 40, size_t(1) << 30) == nullptr && errno == ENOMEM);
  char* z = static_cast<char*>(calloc(size_t(1) << 20, 64));  // 64 MiB
  EXPECT(z != nullptr);
  if (z) {
    for (size_t i = 0; i < (size_t(64) << 20); i += 4096) EXPECT(z[i] == 0);
    z[(size_t(64) << 20) - 1] = 1;
    free(z);
  }
  for (int i = 0; i < 200; i++) {
    char* c = static_cast<char*>(calloc(i + 1, 7));
    EXPECT(c != nullptr);
    for (int j = 0; c && j < (i + 1) * 7; j++) EXPECT(c[j] == 0);
    if (c) memset(c, 0xee, (i + 1) * 7);
    free(c);
  }
  // Growth by realloc, from 1 byte to 8 MiB, contents kept; then shrinking.
  size_t n = 1;
  unsigned char* r = static_cast<unsigned char*>(malloc(n));
  r[0] = 0;
  while (n < (size_t(8) << 20)) {
    size_t m = n + n / 2 + 1;
    unsigned char* g = static_cast<unsigned char*>(realloc(r, m));
    EXPECT(g != nullptr);
    if (!g) break;
    for (size_t i = 0; i < n; i += 997) EXPECT(g[i] == (unsigned char)(i * 31));
    for (size_t i = 0; i < m; i++) g[i] = (unsigned char)(i * 31);
    r = g;
    n = m;
  }
  r = static_cast<unsigned char*>(realloc(r, 100));
  for (size_t i = 0; i < 100; i++) EXPECT(r[i] == (unsigned char)(i * 31));
  free(r);
  // Sized and aligned delete with the right size and alignment; big blocks to their last byte.
  for (size_t size : {size_t(1), size_t(24), size_t(1000), size_t(70000), size_t(200000), size_t(3) << 20}) {
    char* a = static_cast<char*>(::operator new(size));
    memset(a, 1, size);
    ::operator delete(a, size);
    for (size_t align : {size_t(32), size_t(4096), size_t(65536)}) {
      char* b = static_cast<char*>(::operator new(size, std::align_val_t(align)));
      EXPECT((uintptr_t(b) & (align - 1)) == 0);
      memset(b, 2, size);
      ::operator delete(b, size, std::align_val_t(align));
    }
    char* m = static_cast<char*>(malloc(size));
    EXPECT(malloc_usable_size(m) >= size);
    memset(m, 3, malloc_usable_size(m));  // all of what it says may be used
    free(m);
  }
  void* pm = nullptr;
  EXPECT(posix_memalign(&pm, 256, 5000) == 0 && (uintptr_t(pm) & 255) == 0);
  free(pm);
  // malloc(0): unique, freeable, resizable.
  void* e1 = malloc(0);
  void* e2 = malloc(0);
  EXPECT(e1 != nullptr && e2 != nullptr && e1 != e2);
  free(e1);
  char* e3 = static_cast<char*>(realloc(e2, 10));
  EXPECT(e3 != nullptr);
  if (e3) memcpy(e3, "123456789", 10);
  free(e3);
  // Threads freeing each other's blocks.
  char* slots[2][64];
  for (auto& s : slots)
    for (auto& b : s) b = static_cast<char*>(malloc(32));
  pthread_t t[2];
  pthread_create(&t[0], nullptr, worker, slots[1]);
  pthread_create(&t[1], nullptr, worker, slots[0]);
  pthread_join(t[0], nullptr);
  pthread_join(t[1], nullptr);
  for (auto& s : slots)
    for (auto& b : s) free(b);
  // fork: the child allocates and frees, the parent too.
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 5000; i++) free(malloc(i % 500));
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int i = 0; i < 5000; i++) free(malloc(i % 500));
  malloc_trim(0);
  report_line("benign", g_failed ? "failed" : "ok");
  return g_failed;
}
