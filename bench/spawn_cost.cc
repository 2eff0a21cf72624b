// Start-up cost probe: spawn_cost N PRELOAD|- program args... runs the program N times with posix_spawn
// and waitpid, LD_PRELOAD set to PRELOAD (unless "-"), stdout and stderr to /dev/null, and prints the mean
// microseconds per spawn+wait (us_per_spawn=...). Every child must exit 0 (exit status 1 otherwise), so a
// configuration that breaks start-up is not measured as fast.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: spawn_cost N PRELOAD|- program args...\n");
    return 2;
  }
  const int n = atoi(argv[1]);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; e++)
    if (strncmp(*e, "LD_PRELOAD=", 11) != 0) env_store.push_back(*e);
  if (strcmp(argv[2], "-") != 0) env_store.push_back(std::string("LD_PRELOAD=") + argv[2]);
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(&s[0]);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < n; i++) {
    pid_t pid;
    if (posix_spawn(&pid, argv[3], &fa, nullptr, argv + 3, envp.data()) != 0) { perror("posix_spawn"); return 1; }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "child %d failed (status %d)\n", i, st);
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
  printf("us_per_spawn=%.1f\n", us);
  return 0;
}
