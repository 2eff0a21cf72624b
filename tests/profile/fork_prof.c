/* Fork while profiling (run.py): four threads allocate in site_thread while the main thread forks; the
 * child allocates in site_child, writes a profile with brk_prof_dump(NULL) (the next numbered file of
 * its own pid) and exits (the exit profile); the parent waits for both and exits. Prints both pids. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int brk_prof_dump(const char* path) __attribute__((weak));

enum { kThreads = 4, kPer = 4000, kSize = 512 };
static void* blocks[kThreads][kPer];
static volatile int started;

__attribute__((noinline)) void site_thread(int t) {
  for (int i = 0; i < kPer; ++i) { blocks[t][i] = malloc(kSize); memset(blocks[t][i], t, 32); if (i == kPer / 2) __atomic_add_fetch(&started, 1, __ATOMIC_RELAXED); }
}
static void* thread_main(void* arg) { site_thread((int)(long)arg); return NULL; }

__attribute__((noinline)) void* site_child(void) {
  void** v = malloc(2000 * sizeof(void*));
  for (int i = 0; i < 2000; ++i) { v[i] = malloc(1024); memset(v[i], 5, 32); }
  return v;
}

int main(void) {
  pthread_t th[kThreads];
  for (long t = 0; t < kThreads; ++t) pthread_create(&th[t], NULL, thread_main, (void*)t);
  while (__atomic_load_n(&started, __ATOMIC_RELAXED) < 1) {}
  pid_t child = fork();  /* while the threads allocate (and sample) */
  if (child == 0) {
    void* volatile keep = site_child();
    (void)keep;
    int (*dump)(const char*) = brk_prof_dump ? brk_prof_dump : (int (*)(const char*))dlsym(RTLD_DEFAULT, "brk_prof_dump");
    int rc = dump ? dump(NULL) : -2;
    printf("child %d dump %d\n", (int)getpid(), rc);
    exit(rc == 0 ? 0 : 1);
  }
  for (int t = 0; t < kThreads; ++t) pthread_join(th[t], NULL);
  int st = 0;
  waitpid(child, &st, 0);
  printf("parent %d child %d status %d\n", (int)getpid(), (int)child, st);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
