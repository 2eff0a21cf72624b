// fork: while background threads allocate and free, the main thread forks hundreds of times. Each child
// checks blocks inherited from the parent, frees some of them, allocates/reallocates/frees its own (every
// fourth child also from a new thread), and _exit(0)s. The parent waits for each child with a time bound:
// a child that does not finish in time (an allocator lock left held across fork) is killed and the run fails.
#include <signal.h>
#include <sys/wait.h>

#include <thread>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

const double kChildTimeout = 20.0;  // seconds; a healthy child needs milliseconds

struct Block {
  void* p = nullptr;
  size_t n = 0;
};

Block make(Rng& r, size_t max) {
  Block b;
  b.n = mixed_size(r, max);
  b.p = S_MALLOC(b.n);
  if (!b.p) fail("allocation of %zu bytes returned NULL", b.n);
  check_align(b.p, b.n, "fork block");
  fill(b.p, b.n);
  return b;
}

void drop(Block& b, const char* what) {
  check(b.p, b.n, what);
  S_FREE(b.p);
  b.p = nullptr;
}

void background(int t, std::atomic<bool>* stop) {
  Rng r(g_opt.seed * 31337 + (uint64_t)t);
  std::vector<Block> slots(300);
  while (!stop->load(std::memory_order_relaxed)) {
    for (int k = 0; k < 64; k++) {
      Block& b = slots[r.below(slots.size())];
      if (b.p) drop(b, "background thread");
      else b = make(r, 160 * 1024);
    }
    usleep(100);  // busy, but leaving the two cores room for the children
  }
  for (Block& b : slots)
    if (b.p) drop(b, "background thread exit");
}

void child_work(Rng& r) {
  std::vector<Block> mine(32);
  for (auto& b : mine) b = make(r, 160 * 1024);
  for (int k = 0; k < 64; k++) {
    Block& b = mine[r.below(mine.size())];
    check(b.p, b.n, "child before realloc");
    size_t n2 = mixed_size(r, 160 * 1024);
    void* q = S_REALLOC(b.p, n2);
    if (!q) fail("child: realloc to %zu returned NULL", n2);
    check_pattern(q, b.n < n2 ? b.n : n2, b.p, b.n, "child after realloc");
    fill(q, n2);
    b.p = q;
    b.n = n2;
  }
  for (auto& b : mine) drop(b, "child free");
}

[[noreturn]] void child_main(int round, std::vector<Block>* inherited) {
  Rng r(g_opt.seed * 7777 + (uint64_t)round);
  for (size_t i = 0; i < inherited->size(); i++) {
    Block& b = (*inherited)[i];
    check(b.p, b.n, "child: block inherited from the parent");
    if (i % 2 == (size_t)round % 2) drop(b, "child: freeing an inherited block");
  }
  child_work(r);
  if (round % 4 == 0) {
    std::thread t([round] {
      Rng r2(g_opt.seed * 9999 + (uint64_t)round);
      child_work(r2);
    });
    t.join();
  }
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("fork", argc, argv);
  size_t forks = knob(200, 10000), nbg = 2;
  note("%zu forks while %zu threads allocate; child timeout %.0f s", forks, nbg, kChildTimeout);
  Rng r(g_opt.seed);
  std::vector<Block> inherited(32);
  for (auto& b : inherited) b = make(r, 256 * 1024);
  std::atomic<bool> stop{false};
  std::vector<std::thread> bg;
  for (size_t i = 0; i < nbg; i++) bg.emplace_back(background, (int)i, &stop);
  double t0 = now_s(), slowest = 0;
  for (size_t i = 0; i < forks; i++) {
    // The parent changes its own heap between forks.
    Block& b = inherited[r.below(inherited.size())];
    drop(b, "parent");
    b = make(r, 256 * 1024);
    double start = now_s();
    pid_t pid = fork();
    if (pid < 0) fail("fork #%zu failed: %s", i, strerror(errno));
    if (pid == 0) child_main((int)i, &inherited);
    int status = 0;
    for (;;) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (w < 0) fail("waitpid: %s", strerror(errno));
      if (now_s() - start > kChildTimeout) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        stop = true;
        fail("child of fork #%zu (pid %d) did not exit within %.0f s: deadlock after fork; killed", i, (int)pid,
             kChildTimeout);
      }
      usleep(200);
    }
    if (now_s() - start > slowest) slowest = now_s() - start;
    if (WIFSIGNALED(status)) fail("child of fork #%zu died of signal %d (%s)", i, WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail("child of fork #%zu exited with status %d", i, WEXITSTATUS(status));
  }
  stop = true;
  for (auto& t : bg) t.join();
  for (auto& b : inherited) drop(b, "parent exit");
  note("PASS: %zu children in %.1f s, slowest %.0f ms", forks, now_s() - t0, slowest * 1000);
  return 0;
}
