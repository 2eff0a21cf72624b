// fork() from a SIGUSR1 handler that interrupted malloc, free, realloc or the main thread's own fork()
// (glibc's tst-mallocfork2, bug 19703 and 24161). The main thread allocates and frees in a loop, sizes
// from 16 bytes to 1 MiB so the slow paths (span refills, arena growth, own mappings, the mmap
// threshold) are hit, and forks now and then. Senders deliver SIGUSR1 at random intervals:
//   --sender thread   one sender thread in this process (the process is multi-threaded, as every
//                     program with a helper thread; glibc only promises this case when single-threaded);
//   --sender process  three sender processes (this process stays single-threaded unless the allocator
//                     starts a thread of its own: glibc's own test, where a signal may also interrupt
//                     the main loop's fork(), bug 24161).
// The handler forks; the child allocates (child_allocates) and _exits; the handler waits for it. A child
// that fails or crashes is a failure, a deadlock is caught by the runner's timeout. Passes iff every child
// exited 0, every malloc succeeded with intact contents, and at least one signal interrupted an allocator
// call (else the case was not exercised).
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "tests/robust/robust_common.h"

enum Where { kNowhere, kInMalloc, kInFree, kInRealloc, kInFork };
static volatile sig_atomic_t g_where = kNowhere;
static volatile sig_atomic_t g_hits[5];
static volatile sig_atomic_t g_handler_forks = 0;
// Signals handled so far, in memory shared with the sender processes: a sender waits until its last
// signal was handled before it sleeps and sends the next, so the handler's forks (a millisecond or more
// each) cannot starve the main loop.
static volatile long* g_handled;
static volatile sig_atomic_t g_handler_errors = 0;
static volatile int g_stop = 0;

static int wait_child(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

static void on_usr1(int) {
  int saved = errno;
  g_hits[g_where] = g_hits[g_where] + 1;
  pid_t pid = fork();
  if (pid == 0) _exit(child_allocates() == 0 ? 0 : 41);
  if (pid < 0) {
    say_raw("FAIL: fork in the SIGUSR1 handler failed\n");
    g_handler_errors = g_handler_errors + 1;
  } else if (wait_child(pid) != 0) {
    say_raw("FAIL: a child forked by the SIGUSR1 handler did not exit 0\n");
    g_handler_errors = g_handler_errors + 1;
  }
  g_handler_forks = g_handler_forks + 1;
  __atomic_fetch_add(g_handled, 1, __ATOMIC_RELEASE);
  errno = saved;
}

static pthread_t g_main;

// Waits (polling, bounded by --seconds plus slack) until more than `seen` signals have been handled.
static void wait_handled(long seen) {
  for (int i = 0; i < 100000 && __atomic_load_n(g_handled, __ATOMIC_ACQUIRE) <= seen; i++) sleep_us(20);
}

static void* sender_thread(void*) {
  uint64_t s = 12345;
  while (!__atomic_load_n(&g_stop, __ATOMIC_RELAXED)) {
    long seen = __atomic_load_n(g_handled, __ATOMIC_ACQUIRE);
    pthread_kill(g_main, SIGUSR1);
    wait_handled(seen);
    sleep_us(100 + (long)(next_rand(&s) % 1000));
  }
  return NULL;
}

static void sender_process(pid_t target, uint64_t s) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (;;) {
    long seen = __atomic_load_n(g_handled, __ATOMIC_ACQUIRE);
    if (kill(target, SIGUSR1) != 0) _exit(0);
    wait_handled(seen);
    sleep_us(300 + (long)(next_rand(&s) % 3000));
  }
}

// A block's first and last bytes carry its slot number, checked before it is freed or grown.
static void stamp(unsigned char* p, size_t n, int slot) {
  p[0] = (unsigned char)slot;
  p[n - 1] = (unsigned char)(slot ^ 0xff);
  if (n > 64) memset(p + 1, slot, 62);
}
static int stamp_ok(const unsigned char* p, size_t n, int slot) {
  return p[0] == (unsigned char)slot && p[n - 1] == (unsigned char)(slot ^ 0xff);
}

int main(int argc, char** argv) {
  const char* mode = arg_str(argc, argv, "--sender", "thread");
  long iterations = (long)arg_num(argc, argv, "--iterations", 1000000);
  double seconds = arg_num(argc, argv, "--seconds", 2.0);
  int use_thread = !strcmp(mode, "thread");
  if (!use_thread && strcmp(mode, "process")) {
    FAILF("--sender must be thread or process\n");
    return 2;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);

  g_handled = (volatile long*)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_handled == MAP_FAILED) {
    FAILF("mmap of the shared counter failed\n");
    return 2;
  }
  g_main = pthread_self();
  pthread_t sender;
  pid_t senders[3] = {0, 0, 0};
  if (use_thread) {
    if (pthread_create(&sender, NULL, sender_thread, NULL) != 0) {
      FAILF("pthread_create failed\n");
      return 2;
    }
  } else {
    pid_t me = getpid();
    for (int i = 0; i < 3; i++) {
      senders[i] = fork();
      if (senders[i] == 0) sender_process(me, 777 + i);
    }
  }

  enum { kSlots = 1009 };
  static unsigned char* obj[kSlots];
  static size_t len[kSlots];
  uint64_t seed = 1;
  long done = 0, main_forks = 0;
  double start = now_s();
  for (; done < iterations && now_s() - start < seconds && !g_failures; done++) {
    int slot = (int)(next_rand(&seed) % kSlots);
    uint64_t r = next_rand(&seed);
    size_t size;
    switch (r % 10) {
      case 0: size = 128 * 1024 + (r >> 8) % (896 * 1024); break;   // above the usual mmap threshold
      case 1: case 2: size = 4096 + (r >> 8) % (124 * 1024); break;
      default: size = 2 + (r >> 8) % 1024; break;  // 2 at least: the stamp uses two bytes
    }
    if ((r >> 40) % 101 == 0) {
      // In a multi-threaded process glibc's fork() holds its atfork lock from the prepare handlers to
      // the parent handlers, so a fork from a handler that interrupted it deadlocks in glibc under any
      // allocator: the thread mode keeps the signal out of the main loop's fork.
      sigset_t usr1, old;
      sigemptyset(&usr1);
      sigaddset(&usr1, SIGUSR1);
      if (use_thread) pthread_sigmask(SIG_BLOCK, &usr1, &old);
      g_where = kInFork;
      pid_t pid = fork();
      if (pid == 0) {
        g_where = kNowhere;
        _exit(child_allocates() == 0 ? 0 : 42);
      }
      g_where = kNowhere;
      if (use_thread) pthread_sigmask(SIG_SETMASK, &old, NULL);
      main_forks++;
      if (pid < 0 || wait_child(pid) != 0) FAILF("a child of the main loop failed (pid %d)\n", (int)pid);
    }
    if (obj[slot] && !stamp_ok(obj[slot], len[slot], slot)) FAILF("slot %d lost its contents\n", slot);
    if (obj[slot] && (r >> 50) % 5 == 0) {
      g_where = kInRealloc;
      unsigned char* q = (unsigned char*)realloc(obj[slot], size);
      g_where = kNowhere;
      if (q == NULL) {
        FAILF("realloc(%zu) failed: %s\n", size, strerror(errno));
        break;
      }
      size_t kept = size < len[slot] ? size : len[slot];
      if (q[0] != (unsigned char)slot || (kept > 64 && q[62] != (unsigned char)slot))
        FAILF("realloc lost the contents of slot %d\n", slot);
      obj[slot] = q;
    } else {
      g_where = kInFree;
      free(obj[slot]);
      g_where = kInMalloc;
      obj[slot] = (unsigned char*)malloc(size);
      g_where = kNowhere;
      if (obj[slot] == NULL) {
        FAILF("malloc(%zu) failed: %s\n", size, strerror(errno));
        break;
      }
    }
    len[slot] = size;
    stamp(obj[slot], size, slot);
  }

  __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
  if (use_thread) {
    pthread_join(sender, NULL);
  } else {
    for (int i = 0; i < 3; i++) {
      kill(senders[i], SIGKILL);
      wait_child(senders[i]);
    }
  }
  for (int i = 0; i < kSlots; i++) free(obj[i]);

  int in_alloc = g_hits[kInMalloc] + g_hits[kInFree] + g_hits[kInRealloc];
  say("info: sender %s: %ld iterations, %ld main-loop forks, %d handler forks; signals in malloc %d, free %d, "
      "realloc %d, fork %d\n", mode, done, main_forks, (int)g_handler_forks, (int)g_hits[kInMalloc],
      (int)g_hits[kInFree], (int)g_hits[kInRealloc], (int)g_hits[kInFork]);
  if (g_handler_errors) FAILF("%d handler forks failed\n", (int)g_handler_errors);
  if (done < 200) FAILF("only %ld iterations ran\n", done);
  if (in_alloc == 0) FAILF("no signal interrupted malloc/free/realloc: the case was not exercised\n");
  return g_failures ? 1 : 0;
}
