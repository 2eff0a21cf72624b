// xmalloc-like producer/consumer: producer threads allocate batches of small tagged blocks and pass
// them through bounded queues to consumer threads, which verify and free them. Every block is freed
// by a thread other than the one that allocated it.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"

namespace {
constexpr size_t kBatch = 128;
struct Batch { void* p[kBatch]; size_t n; };

struct Queue {  // bounded MPSC-ish queue of batches (one producer, one consumer here)
  std::mutex m;
  std::condition_variable cv_put, cv_get;
  std::deque<Batch*> q;
  bool done = false;
  void put(Batch* b) {
    std::unique_lock<std::mutex> l(m);
    cv_put.wait(l, [&] { return q.size() < 64; });
    q.push_back(b);
    cv_get.notify_one();
  }
  Batch* get() {
    std::unique_lock<std::mutex> l(m);
    cv_get.wait(l, [&] { return !q.empty() || done; });
    if (q.empty()) return nullptr;
    Batch* b = q.front();
    q.pop_front();
    cv_put.notify_one();
    return b;
  }
  void close() { std::lock_guard<std::mutex> l(m); done = true; cv_get.notify_all(); }
};
}  // namespace

int main(int argc, char** argv) {
  bench::Args a = bench::parse_args(argc, argv);
  const int pairs = a.threads < 2 ? 1 : a.threads / 2 + (a.threads % 2);
  const uint64_t batches = bench::scaled(20000, a);  // per producer
  std::vector<Queue> queues(pairs);
  std::vector<uint64_t> sums(pairs, 0), bads(pairs, 0);
  std::vector<std::thread> ths;
  for (int i = 0; i < pairs; i++) {
    ths.emplace_back([&, i] {  // producer
      bench::Rng r(77 + i);
      for (uint64_t b = 0; b < batches; b++) {
        Batch* bt = new Batch;
        bt->n = kBatch;
        for (size_t k = 0; k < kBatch; k++) bt->p[k] = bench::make_block(r.size_skewed(16, 512), r.next(), false);
        queues[i].put(bt);
      }
      queues[i].close();
    });
    ths.emplace_back([&, i] {  // consumer
      uint64_t sum = 0, bad = 0;
      while (Batch* bt = queues[i].get()) {
        for (size_t k = 0; k < bt->n; k++) sum += bench::take_block(bt->p[k], &bad);
        delete bt;
      }
      sums[i] = sum;
      bads[i] = bad;
    });
  }
  for (auto& th : ths) th.join();
  uint64_t sum = 0, bad = 0;
  for (int i = 0; i < pairs; i++) { sum += sums[i]; bad += bads[i]; }
  return bench::finish(sum, bad);
}
