// xthread: blocks allocated by one thread and freed by another.
//  1. flow:  producer threads allocate patterned blocks and pass them in batches through a shared queue to
//            consumer threads, which check and free them;
//  2. hoard: producers allocate a large amount while consumers wait, then consumers check and free it all
//            (this sets the peak);
//  3. ring:  each thread allocates blocks and sends them around a ring of threads; every block is freed after
//            1..N-1 hops, so always by a thread other than the one that allocated it.
// Afterwards malloc_trim(0), and the memory still held is compared with the peak. Bound (asserted only with
// --promise-return, reported always):  final - base <= (peak - base) / 4,
// where base/peak/final are the resident set (/proc/self/statm) before phase 1, after the hoard, and after
// the trim; in the prefixed build (brk_malloc) they are brk_get_stats().mapped instead, which sanitizer
// shadow memory does not distort.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

struct Item {
  void* p;
  size_t n;
  int owner;  // thread index that allocated the block (ring: the freer must differ)
  int hops;   // ring: hops left before the block is freed
};
using Batch = std::vector<Item>;

// A queue of batches with blocking pop; close() wakes everyone once it is empty.
class BatchQueue {
 public:
  void push(Batch&& b) {
    std::lock_guard<std::mutex> g(m_);
    q_.push_back(std::move(b));
    cv_.notify_one();
  }
  bool pop(Batch* out) {
    std::unique_lock<std::mutex> g(m_);
    cv_.wait(g, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *out = std::move(q_.front());
    q_.pop_front();
    return true;
  }
  size_t size() {
    std::lock_guard<std::mutex> g(m_);
    return q_.size();
  }
  void close() {
    std::lock_guard<std::mutex> g(m_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Batch> q_;
  bool closed_ = false;
};

const size_t kBatch = 64;

void* alloc_block(Rng& r, size_t n) {
  void* p = r.chance(10) ? S_CALLOC(1, n) : S_MALLOC(n);
  if (!p) fail("allocation of %zu bytes returned NULL", n);
  check_align(p, n, "xthread block");
  fill(p, n);
  return p;
}

void consume(BatchQueue* q) {
  Batch b;
  while (q->pop(&b)) {
    for (Item& it : b) {
      check(it.p, it.n, "consumer before free");
      S_FREE(it.p);
    }
  }
}

// Phase 1 producer: stream until the deadline, pausing while the queue is long.
void produce_flow(int t, BatchQueue* q, double deadline, std::atomic<uint64_t>* blocks) {
  Rng r(g_opt.seed * 7919 + (uint64_t)t);
  uint64_t count = 0;
  while (now_s() < deadline) {
    if (q->size() > 256) {
      std::this_thread::yield();
      continue;
    }
    Batch b;
    b.reserve(kBatch);
    for (size_t i = 0; i < kBatch; i++) {
      size_t n = mixed_size(r, 1 << 20);
      b.push_back(Item{alloc_block(r, n), n, t, 0});
    }
    count += kBatch;
    q->push(std::move(b));
  }
  blocks->fetch_add(count);
}

// Phase 2 producer: allocate `bytes` in total.
void produce_hoard(int t, BatchQueue* q, size_t bytes) {
  Rng r(g_opt.seed * 104729 + (uint64_t)t);
  size_t done = 0;
  while (done < bytes) {
    Batch b;
    b.reserve(kBatch);
    for (size_t i = 0; i < kBatch && done < bytes; i++) {
      size_t n = mixed_size(r, 1 << 20);
      b.push_back(Item{alloc_block(r, n), n, t, 0});
      done += n;
    }
    q->push(std::move(b));
  }
}

// Phase 3: a ring of inboxes.
struct Inbox {
  std::mutex m;
  std::condition_variable cv;
  Batch items;
};

// Ending: a member that passes the deadline stops producing and counts itself out of `producing` once; it leaves
// only when nobody produces any more and nothing is in flight. Each member's deadline test reads its own clock, so
// without the count a member could leave while a neighbour that had not yet seen the deadline adds one more batch
// for it (a hang seen under CI load).
void ring_member(int t, int nthreads, std::vector<Inbox>* boxes, double deadline, std::atomic<int64_t>* in_flight,
                 std::atomic<int>* producing, std::atomic<uint64_t>* freed) {
  Rng r(g_opt.seed * 15485863 + (uint64_t)t);
  Inbox& mine = (*boxes)[t];
  Inbox& next = (*boxes)[(t + 1) % nthreads];
  uint64_t nfreed = 0;
  bool stopping = false;
  for (;;) {
    if (!stopping && now_s() >= deadline) {
      stopping = true;
      producing->fetch_sub(1);
    }
    Batch out;
    if (!stopping) {
      size_t backlog;
      {
        std::lock_guard<std::mutex> g(next.m);
        backlog = next.items.size();
      }
      if (backlog < 4096) {
        for (size_t i = 0; i < kBatch; i++) {
          size_t n = mixed_size(r, 256 * 1024);
          out.push_back(Item{alloc_block(r, n), n, t, (int)r.range(0, (uint64_t)nthreads - 2)});
        }
        in_flight->fetch_add((int64_t)kBatch);
      }
    }
    Batch got;
    {
      std::unique_lock<std::mutex> g(mine.m);
      if (mine.items.empty() && out.empty())
        mine.cv.wait_for(g, std::chrono::milliseconds(1), [&] { return !mine.items.empty(); });
      got.swap(mine.items);
    }
    for (Item& it : got) {
      check(it.p, it.n, "ring hop");
      if (it.hops > 0) {
        it.hops--;
        out.push_back(it);
        continue;
      }
      if (it.owner == t) fail("ring bookkeeping: thread %d would free its own block %p", t, it.p);
      S_FREE(it.p);
      nfreed++;
      in_flight->fetch_sub(1);
    }
    if (!out.empty()) {
      std::lock_guard<std::mutex> g(next.m);
      next.items.insert(next.items.end(), out.begin(), out.end());
      next.cv.notify_one();
    }
    if (stopping && producing->load() == 0 && in_flight->load() == 0) break;
  }
  freed->fetch_add(nfreed);
}

// Memory the process (or, prefixed, the allocator) holds: see the header comment.
size_t footprint() {
#ifdef STRESS_PREFIXED
  struct brk_stats s;
  brk_get_stats(&s);
  return s.mapped;
#else
  return rss_bytes();
#endif
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("xthread", argc, argv);
  size_t producers = knob(2, 4), consumers = knob(2, 4), ring = knob(4, 8);
  if (ring < 2) ring = 2;
  double flow_s = run_seconds(1.0, 60.0), ring_s = run_seconds(1.0, 60.0);
  size_t hoard = knob(160u << 20, 1024u << 20);
  const char* what = "RSS";
#ifdef STRESS_PREFIXED
  what = "brk_stats.mapped";
#endif
  size_t base = footprint();
  note("base %s %.1f MiB; flow %zu->%zu threads %.1f s", what, mib(base), producers, consumers, flow_s);

  {  // 1. flow
    BatchQueue q;
    std::atomic<uint64_t> blocks{0};
    std::vector<std::thread> cs, ps;
    for (size_t i = 0; i < consumers; i++) cs.emplace_back(consume, &q);
    double deadline = now_s() + flow_s;
    for (size_t i = 0; i < producers; i++) ps.emplace_back(produce_flow, (int)i, &q, deadline, &blocks);
    for (auto& t : ps) t.join();
    q.close();
    for (auto& t : cs) t.join();
    note("flow: %llu blocks passed between threads", (unsigned long long)blocks.load());
  }

  size_t peak;
  {  // 2. hoard
    BatchQueue q;
    std::vector<std::thread> ps, cs;
    for (size_t i = 0; i < producers; i++) ps.emplace_back(produce_hoard, (int)i, &q, hoard / producers);
    for (auto& t : ps) t.join();
    peak = footprint();
    note("hoard: %.0f MiB live, %s at peak %.1f MiB", mib(hoard), what, mib(peak));
    for (size_t i = 0; i < consumers; i++) cs.emplace_back(consume, &q);
    q.close();
    for (auto& t : cs) t.join();
  }

  {  // 3. ring
    std::vector<Inbox> boxes(ring);
    std::atomic<int64_t> in_flight{0};
    std::atomic<int> producing{(int)ring};
    std::atomic<uint64_t> freed{0};
    std::vector<std::thread> ts;
    double deadline = now_s() + ring_s;
    for (size_t i = 0; i < ring; i++)
      ts.emplace_back(ring_member, (int)i, (int)ring, &boxes, deadline, &in_flight, &producing, &freed);
    for (auto& t : ts) t.join();
    if (in_flight.load() != 0) fail("ring ended with %lld blocks in flight", (long long)in_flight.load());
    note("ring: %zu threads, %llu blocks freed by a thread other than their allocator", ring,
         (unsigned long long)freed.load());
  }

  size_t before_trim = footprint();
  S_TRIM();
  size_t final_fp = footprint();
  size_t f_growth = final_fp > base ? final_fp - base : 0;
  size_t p_growth = peak > base ? peak - base : 0;
  double ratio = p_growth ? (double)f_growth / (double)p_growth : 0.0;
  note("%s: base %.1f MiB, peak %.1f MiB, after free %.1f MiB, after trim %.1f MiB: retained %.1f%% of the growth "
       "(bound 25%%%s)",
       what, mib(base), mib(peak), mib(before_trim), mib(final_fp), 100.0 * ratio,
       g_opt.promise_return ? ", asserted" : ", reported only");
  note("figure: retained after trim %.1f%%", 100.0 * ratio);
  if (g_opt.promise_return) {
    if (p_growth < hoard / 2)
      fail("%s grew only %.1f MiB while %.1f MiB were live: the measurement is broken", what, mib(p_growth), mib(hoard));
    if (f_growth * 4 > p_growth)
      fail("after malloc_trim(0) %s is %.1f MiB above the start, more than a quarter of the peak growth %.1f MiB",
           what, mib(f_growth), mib(p_growth));
  }
  note("PASS");
  return 0;
}
