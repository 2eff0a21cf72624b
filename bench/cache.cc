// Cache-scratch / cache-thrash (false sharing). Threads repeatedly allocate a small object, write it
// hard, and free it. --mode=thrash: each thread's objects are its own from the start; an allocator that
// packs different threads' objects into one cache line makes them fight over it. --mode=scratch: the
// main thread first allocates one object per thread (adjacent) and each thread frees its object
// first; an allocator that then hands that freed block back to the thread passively shares a line.
#include <thread>
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  const bool scratch = !strcmp(a.mode, "scratch");
  if (!scratch && strcmp(a.mode, "thrash")) { fprintf(stderr, "--mode=scratch|thrash\n"); return 2; }
  const int T = a.threads;
  const size_t kObj = 8;
  const uint64_t iters = bench::scaled(60000, a), writes = 500;
  std::vector<char*> initial(T, nullptr);
  if (scratch)
    for (int t = 0; t < T; t++) initial[t] = (char*)malloc(kObj);
  std::vector<uint64_t> sums(T, 0);
  std::vector<std::thread> ths;
  for (int t = 0; t < T; t++) {
    ths.emplace_back([&, t] {
      if (scratch) free(initial[t]);
      uint64_t sum = 0;
      for (uint64_t i = 0; i < iters; i++) {
        volatile char* p = (volatile char*)malloc(kObj);
        for (size_t k = 0; k < kObj; k++) p[k] = (char)(t + k);
        for (uint64_t w = 0; w < writes; w++)
          for (size_t k = 0; k < kObj; k++) p[k] = (char)(p[k] + 1);
        for (size_t k = 0; k < kObj; k++) sum += (unsigned char)p[k];
        free((void*)p);
      }
      sums[t] = sum;
    });
  }
  for (auto& th : ths) th.join();
  uint64_t sum = 0;
  for (int t = 0; t < T; t++) sum = sum * 31 + sums[t];
  return bench::finish(sum, 0);
}
