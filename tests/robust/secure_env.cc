// Malloc settings in a set-user-ID program (glibc ignores MALLOC_* tunables there, and ld.so drops them
// from the environment: an unprivileged user must not be able to steer a privileged program's heap, nor
// make it write statistics into a file the user chose as its stderr). The runner builds this program
// against each allocator, makes it set-user-ID root and runs it as nobody (AT_SECURE is then 1) with
// BRKMALLOC_STATS=1, BRKMALLOC_MMAP_THRESHOLD=4096 and MALLOC_MMAP_THRESHOLD_=4096; the control run is
// the same binary without privileges, where the settings must take effect.
// It reports: secure (getauxval(AT_SECURE)), allocator (brkmalloc if malloc_info says so), and
// threshold: "default" if no 64 KiB block of eight is given its own mapping (mallinfo2().hblks unchanged),
// "4096" if one is. The runner judges (stderr must be empty in secure mode: no statistics, no warnings).
#include <malloc.h>
#include <sys/auxv.h>

#include "tests/robust/robust_common.h"

static int allocator_is_brkmalloc() {
  char* buf = NULL;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f == NULL) return 0;
  malloc_info(0, f);
  fclose(f);
  int yes = buf != NULL && strstr(buf, "brkmalloc") != NULL;
  free(buf);
  return yes;
}

int main() {
  say("secure=%lu\n", getauxval(AT_SECURE));
  say("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
  say("allocator=%s\n", allocator_is_brkmalloc() ? "brkmalloc" : "other");
  // Eight blocks, not one: glibc consults its threshold only when the top chunk is used up.
  size_t before = mallinfo2().hblks;
  void* p[8];
  for (int i = 0; i < 8; i++) {
    p[i] = malloc(64 * 1024);
    memset(p[i], 1, 64 * 1024);
    escape(p[i]);
  }
  size_t after = mallinfo2().hblks;
  for (int i = 0; i < 8; i++) free(p[i]);
  say("threshold=%s\n", after == before ? "default" : "4096");
  say("env_visible=%s\n", getenv("BRKMALLOC_STATS") ? "yes" : "no");
  return 0;
}
