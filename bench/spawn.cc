// Launcher the runner puts in front of every measured program:
//   spawn RESULT_FILE TIMEOUT_S PRELOAD|- program args...
// forks, sets LD_PRELOAD (unless "-") in the child, execs the program, waits with wait4 and writes the
// child's wall time, user/sys CPU and peak RSS to RESULT_FILE. Why not wait4 from Python directly: Linux
// carries the pre-exec high-water mark into ru_maxrss, so a child spawned from Python reports at least
// Python's own RSS (~15 MiB). A fork of this small static program starts from well under 1 MiB.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

static pid_t g_child;
static void on_alarm(int) { kill(g_child, SIGKILL); }

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: spawn RESULT_FILE TIMEOUT_S PRELOAD|- program args...\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  g_child = fork();
  if (g_child < 0) { perror("fork"); return 2; }
  if (g_child == 0) {
    if (strcmp(argv[3], "-") != 0) setenv("LD_PRELOAD", argv[3], 1);
    else unsetenv("LD_PRELOAD");
    execvp(argv[4], argv + 4);
    perror("exec");
    _exit(127);
  }
  signal(SIGALRM, on_alarm);
  alarm((unsigned)atoi(argv[2]));
  int status = 0;
  struct rusage ru;
  while (wait4(g_child, &status, 0, &ru) < 0) {}
  clock_gettime(CLOCK_MONOTONIC, &t1);
  FILE* f = fopen(argv[1], "w");
  if (!f) { perror("result file"); return 2; }
  fprintf(f, "wall=%.6f\nuser=%.6f\nsys=%.6f\nmaxrss_kb=%ld\nstatus=%d\n",
          (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9,
          ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6,
          ru.ru_maxrss, status);
  fclose(f);
  return 0;
}
