// fork() racing stdio locks and allocation in other threads (glibc's tst-malloc-fork-deadlock, bug 19431:
// fork took the malloc locks and the stdio list lock in the opposite order from getline/fflush(NULL)).
// The deadlock: fork() runs the allocator's pthread_atfork prepare handler (its locks taken) and then
// takes the stdio list lock; fflush(NULL) holds the list lock and waits for a FILE lock; the getline
// holding that FILE lock waits in malloc for the allocator lock held by the fork.
// Threads for --seconds: 2 fork in a loop (the child allocates, then exits 17), 4 read a file holding one
// 50,000-byte line with getline (which mallocs and reallocs while holding the FILE's lock), 1 calls
// fflush(NULL) (takes the list lock, then each FILE's), and 2 malloc and free blocks of 16 B - 300 KiB.
// A deadlock is caught by the runner's timeout; a child that does not exit 17 is a failure. Passes iff
// every child exited 17, every getline read the whole line, and every thread made progress.
#include <pthread.h>
#include <sys/wait.h>

#include "tests/robust/robust_common.h"

static volatile int g_stop = 0;
static char g_path[256];
static long g_forks[2], g_reads[4], g_flushes, g_allocs[2];

static int stopped() { return __atomic_load_n(&g_stop, __ATOMIC_RELAXED); }

static void* forker(void* arg) {
  long* count = (long*)arg;
  while (!stopped()) {
    pid_t pid = fork();
    if (pid < 0) {
      FAILF("fork: %s\n", strerror(errno));
      return NULL;
    }
    if (pid == 0) _exit(child_allocates() == 0 ? 17 : 1);
    int status;
    if (waitpid(pid, &status, 0) < 0) {
      FAILF("waitpid: %s\n", strerror(errno));
      return NULL;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 17) {
      FAILF("child ended with status 0x%x, expected exit 17\n", status);
      return NULL;
    }
    ++*count;
  }
  return NULL;
}

static void* reader(void* arg) {
  long* count = (long*)arg;
  FILE* f = fopen(g_path, "r");
  if (f == NULL) {
    FAILF("fopen %s: %s\n", g_path, strerror(errno));
    return NULL;
  }
  while (!stopped()) {
    rewind(f);
    char* line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n != 50001) {
      FAILF("getline returned %zd, expected 50001\n", n);
      free(line);
      break;
    }
    free(line);
    ++*count;
    // A short pause now and then: without it the readers and fflush(NULL) hold the stdio locks nearly
    // all the time and a fork waits up to a second for them (a few forks per run instead of hundreds).
    if (*count % 4 == 0) sleep_us(1);
  }
  fclose(f);
  return NULL;
}

static void* flusher(void*) {
  while (!stopped()) {
    if (fflush(NULL) != 0) {
      FAILF("fflush(NULL): %s\n", strerror(errno));
      break;
    }
    g_flushes++;
  }
  return NULL;
}

static void* allocator(void* arg) {
  long* count = (long*)arg;
  uint64_t s = (uint64_t)(uintptr_t)arg | 1;
  void* keep[64] = {0};
  while (!stopped()) {
    uint64_t r = next_rand(&s);
    int i = (int)(r % 64);
    free(keep[i]);
    size_t size = (r >> 8) % 16 == 0 ? 100000 + (r >> 16) % 200000 : 16 + (r >> 16) % 2000;
    keep[i] = malloc(size);
    if (keep[i] == NULL) {
      FAILF("malloc(%zu) failed\n", size);
      break;
    }
    memset(keep[i], i, size < 256 ? size : 256);
    ++*count;
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
  return NULL;
}

int main(int argc, char** argv) {
  double seconds = arg_num(argc, argv, "--seconds", 2.0);
  const char* dir = getenv("TMPDIR");
  snprintf(g_path, sizeof g_path, "%s/fork_stdio.XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(g_path);
  if (fd < 0) {
    FAILF("mkstemp %s: %s\n", g_path, strerror(errno));
    return 2;
  }
  FILE* w = fdopen(fd, "w");
  for (int i = 0; i < 50000; i++) fputc('x', w);
  fputc('\n', w);
  if (fclose(w) != 0) {
    FAILF("writing %s failed\n", g_path);
    return 2;
  }

  pthread_t t[9];
  int n = 0;
  for (int i = 0; i < 2; i++) pthread_create(&t[n++], NULL, forker, &g_forks[i]);
  for (int i = 0; i < 4; i++) pthread_create(&t[n++], NULL, reader, &g_reads[i]);
  pthread_create(&t[n++], NULL, flusher, NULL);
  for (int i = 0; i < 2; i++) pthread_create(&t[n++], NULL, allocator, &g_allocs[i]);
  sleep_us((long)(seconds * 1e6));
  __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  unlink(g_path);

  say("info: forks %ld+%ld, getlines %ld+%ld+%ld+%ld, fflush(NULL) %ld, allocation loops %ld+%ld\n", g_forks[0],
      g_forks[1], g_reads[0], g_reads[1], g_reads[2], g_reads[3], g_flushes, g_allocs[0], g_allocs[1]);
  for (int i = 0; i < 2; i++)
    if (g_forks[i] == 0 || g_allocs[i] == 0) FAILF("a fork or allocation thread made no progress\n");
  for (int i = 0; i < 4; i++)
    if (g_reads[i] == 0) FAILF("a getline thread made no progress\n");
  if (g_flushes == 0) FAILF("the fflush(NULL) thread made no progress\n");
  return g_failures ? 1 : 0;
}
