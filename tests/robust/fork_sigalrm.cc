// fork() from a SIGALRM handler while the main thread is itself inside fork() (glibc's tst-mallocfork,
// bug 838, made harder: the timer is aimed at the parent's fork call, and every child allocates).
// The main thread forks in a loop; before each fork a one-shot timer is armed with a random delay in
// [0, 2 x the measured duration of a fork call], so many signals land between the allocator's
// pthread_atfork prepare and parent handlers, where an allocator holding its own locks deadlocks if the
// handler forks again. Every child (the main loop's and the handler's) allocates (child_allocates) and
// exits; a child that fails or crashes is a failure, a hang is caught by the runner's timeout.
// glibc makes this safe only while the process is single-threaded (it then skips its atfork lock and its
// own malloc locks; POSIX no longer requires fork to be async-signal-safe at all), so an allocator that
// starts a helper thread of its own, or takes its locks again in a nested prepare handler, hangs here.
// Passes iff no child failed, at least half the iterations ran a handler fork, and at least one handler
// fork hit the inside of the main thread's fork() (otherwise the test did not exercise its case).
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "tests/robust/robust_common.h"

static volatile sig_atomic_t g_in_fork = 0;
static volatile sig_atomic_t g_handler_forks = 0;
static volatile sig_atomic_t g_hits_in_fork = 0;
static volatile sig_atomic_t g_handler_errors = 0;

static int wait_child(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

static void on_alarm(int) {
  int saved = errno;
  if (g_in_fork) g_hits_in_fork = g_hits_in_fork + 1;
  pid_t pid = fork();
  if (pid == 0) _exit(child_allocates() == 0 ? 0 : 41);
  if (pid < 0) {
    say_raw("FAIL: fork in the SIGALRM handler failed\n");
    g_handler_errors = g_handler_errors + 1;
  } else {
    int st = wait_child(pid);
    if (st != 0) {
      say_raw("FAIL: a child forked by the SIGALRM handler did not exit 0\n");
      g_handler_errors = g_handler_errors + 1;
    }
  }
  g_handler_forks = g_handler_forks + 1;
  errno = saved;
}

static void arm_us(long us) {
  struct itimerval it;
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = us / 1000000;
  it.it_value.tv_usec = us % 1000000;
  if (us == 0) it.it_value.tv_usec = 1;  // zero would disarm
  setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char** argv) {
  long iterations = (long)arg_num(argc, argv, "--iterations", 3000);
  double seconds = arg_num(argc, argv, "--seconds", 2.0);

  // A working set, so that fork copies a real heap and the allocator has state in every size range.
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  enum { kKeep = 2000 };
  static void* keep[kKeep];
  for (int i = 0; i < kKeep; i++) {
    size_t sz = i % 100 == 0 ? 200000 + next_rand(&seed) % 100000 : 16 + next_rand(&seed) % 4000;
    keep[i] = malloc(sz);
    memset(keep[i], i, sz < 4096 ? sz : 4096);
  }
  for (int i = 0; i < kKeep; i += 3) {
    free(keep[i]);
    keep[i] = NULL;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);

  double fork_us = 200;  // running mean of the parent's fork() duration, aims the timer
  long done = 0, child_failures = 0;
  double start = now_s();
  for (; done < iterations && now_s() - start < seconds; done++) {
    arm_us((long)(next_rand(&seed) % (uint64_t)(2 * fork_us + 1)));
    double t0 = now_s();
    g_in_fork = 1;
    pid_t pid = fork();
    if (pid == 0) {
      g_in_fork = 0;
      _exit(child_allocates() == 0 ? 0 : 42);
    }
    g_in_fork = 0;
    double took = (now_s() - t0) * 1e6;
    fork_us = fork_us * 0.9 + took * 0.1;
    if (pid < 0) {
      FAILF("fork failed: %s\n", strerror(errno));
      break;
    }
    int st = wait_child(pid);
    if (st != 0) {
      child_failures++;
      if (child_failures <= 5) FAILF("child of the main loop ended with status 0x%x\n", st);
    }
    // Some allocator work between forks, so the heap the next fork copies is not always the same.
    if (done % 64 == 0) {
      void* p = malloc(100 + done % 5000);
      escape(p);
      free(p);
    }
  }
  struct itimerval off;  // a zero it_value disarms
  memset(&off, 0, sizeof off);
  setitimer(ITIMER_REAL, &off, NULL);

  say("info: %ld iterations, %d handler forks, %d inside the main thread's fork(), mean fork %.0f us\n", done,
      (int)g_handler_forks, (int)g_hits_in_fork, fork_us);
  if (g_handler_errors) FAILF("%d handler forks failed\n", (int)g_handler_errors);
  if (done < 20) FAILF("only %ld iterations ran\n", done);
  if (g_handler_forks * 2 < done) FAILF("only %d handler forks in %ld iterations\n", (int)g_handler_forks, done);
  if (g_hits_in_fork == 0) FAILF("no SIGALRM arrived inside fork(): the case was not exercised\n");
  for (int i = 0; i < kKeep; i++) free(keep[i]);
  return g_failures ? 1 : 0;
}
