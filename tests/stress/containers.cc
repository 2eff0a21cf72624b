// containers: standard containers under threads, so allocation goes through operator new/delete (sized
// delete, aligned new/delete for over-aligned types, arrays with cookies). Each thread builds std::vector,
// std::map, std::unordered_map and std::string contents from its RNG and verifies them; std::shared_ptr
// objects are exchanged between threads through a shared table, so the last owner (any thread) destroys them
// and the destructor checks the object's pattern. Over-aligned objects must be aligned (a misaligned one is
// tolerated only for alignments 256..1024 under STRESS_TOLERATE_MIMALLOC_700: see stress_common.h).
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/stress/stress_common.h"

using namespace stress;

namespace {

template <size_t A>
struct alignas(A) Over {
  uint8_t b[A];
  explicit Over(uint8_t v = 0) {
    if ((uintptr_t)this % A && !tolerate_misaligned(A, 0))
      fail("object of alignment %zu at %p is misaligned", A, (void*)this);
    memset(b, v, sizeof b);
  }
  void verify(uint8_t v) const {
    for (size_t i = 0; i < A; i++)
      if (b[i] != v) fail("aligned(%zu) object %p byte %zu is 0x%02x, expected 0x%02x", A, (const void*)this, i, b[i], v);
  }
};

// A shared object whose destructor checks its own pattern.
struct Payload {
  std::vector<uint8_t> data;
  Over<128> tag;
  explicit Payload(size_t n) : data(n), tag(0x3C) { fill(data.data(), n); }
  ~Payload() {
    check(data.data(), data.size(), "shared_ptr payload at destruction");
    tag.verify(0x3C);
  }
};

std::string value_for(uint64_t k) {
  std::string s;
  size_t n = k % 97;
  for (size_t i = 0; i < n; i++) s += (char)('a' + (k + i) % 26);
  return s;
}

struct Exchange {
  std::mutex m;
  std::vector<std::shared_ptr<Payload>> slots{256};
};

// One round of each container's work; fails on any mismatch.
void one_round(Rng& r, Exchange* ex) {
  {  // vector: push_back growth, then the sum
    std::vector<uint64_t> v;
    size_t n = r.logrange(1, 100000);
    for (size_t i = 0; i < n; i++) v.push_back(i * 3 + 1);
    uint64_t sum = 0;
    for (uint64_t x : v) sum += x;
    if (sum != 3 * (uint64_t)n * (n - 1) / 2 + n) fail("vector of %zu: sum %llu is wrong", n, (unsigned long long)sum);
  }
  {  // map: inserts, erases, verification
    std::map<uint64_t, std::string> m;
    size_t n = r.range(1, 3000);
    for (size_t i = 0; i < n; i++) {
      uint64_t k = r.below(5000);
      m[k] = value_for(k);
    }
    for (auto it = m.begin(); it != m.end();) it = (it->first % 3 == 0) ? m.erase(it) : std::next(it);
    for (auto& kv : m)
      if (kv.first % 3 == 0 || kv.second != value_for(kv.first)) fail("map entry %llu is wrong", (unsigned long long)kv.first);
  }
  {  // unordered_map with vector values, rehashing as it grows
    std::unordered_map<uint64_t, std::vector<uint32_t>> u;
    size_t n = r.range(1, 2000);
    for (size_t i = 0; i < n; i++) {
      uint64_t k = r.next();
      auto& vec = u[k];
      vec.assign(k % 50, (uint32_t)k);
    }
    for (auto& kv : u) {
      if (kv.second.size() != kv.first % 50) fail("unordered_map value size wrong");
      for (uint32_t x : kv.second)
        if (x != (uint32_t)kv.first) fail("unordered_map value content wrong");
    }
  }
  {  // string: concatenation and copies
    std::string s;
    size_t n = r.range(1, 400);
    for (size_t i = 0; i < n; i++) s += value_for(i);
    std::string copy = s;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
      std::string piece = value_for(i);
      if (copy.compare(pos, piece.size(), piece) != 0) fail("string piece %zu wrong", i);
      pos += piece.size();
    }
    if (pos != s.size()) fail("string length wrong");
  }
  {  // over-aligned objects: vector (aligned new[]), single new/delete (aligned sized delete), arrays
    std::vector<Over<64>> v64;
    for (int i = 0; i < (int)r.range(1, 300); i++) v64.emplace_back((uint8_t)i);
    for (size_t i = 0; i < v64.size(); i++) v64[i].verify((uint8_t)i);
    auto* p = new Over<4096>(0x77);
    auto* arr = new Over<256>[r.range(1, 40)];
    p->verify(0x77);
    delete p;
    delete[] arr;
    auto sp = std::make_shared<Over<1024>>(0x11);
    sp->verify(0x11);
    std::unique_ptr<std::string[]> strs(new std::string[r.range(1, 100)]);  // array cookie, sized delete[]
    strs[0] = value_for(91);
  }
  {  // shared_ptr exchange: the displaced object may be destroyed here or by whoever holds it last
    auto mine = std::make_shared<Payload>((size_t)r.logrange(1, 64 * 1024));
    std::shared_ptr<Payload> taken;
    {
      std::lock_guard<std::mutex> g(ex->m);
      auto& slot = ex->slots[r.below(ex->slots.size())];
      taken = std::move(slot);
      slot = mine;
    }
    if (taken) check(taken->data.data(), taken->data.size(), "shared_ptr payload from another thread");
  }
}

void worker(int t, double deadline, Exchange* ex, std::atomic<uint64_t>* count) {
  Rng r(g_opt.seed * 48271 + (uint64_t)t);
  uint64_t n = 0;
  do {
    one_round(r, ex);
    n++;
  } while (now_s() < deadline);
  count->fetch_add(n);
}

}  // namespace

int main(int argc, char** argv) {
  parse_args("containers", argc, argv);
  size_t threads = thread_knob(4, 4);
  double secs = run_seconds(2.0, 120.0);
  note("%zu threads, %.1f s", threads, secs);
  Exchange ex;
  std::atomic<uint64_t> rounds{0};
  double deadline = now_s() + secs;
  std::vector<std::thread> ts;
  for (size_t i = 0; i < threads; i++) ts.emplace_back(worker, (int)i, deadline, &ex, &rounds);
  for (auto& t : ts) t.join();
  ex.slots.clear();  // the remaining payloads' destructors check them
  if (tolerated_misaligned_count())
    note("KNOWN BASELINE BUG: %llu misaligned over-aligned objects tolerated (mimalloc issue #700)", (unsigned long long)tolerated_misaligned_count());
  note("PASS: %llu rounds", (unsigned long long)rounds.load());
  return 0;
}
