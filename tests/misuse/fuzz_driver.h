// A randomised driver for brkmalloc's prefixed API with a shadow model. Each step picks an operation
// (malloc, calloc, realloc, reallocarray, aligned_alloc, posix_memalign, memalign, free, free_sized,
// usable_size, a few documented error cases, hand-over of blocks between threads) from a choice source,
// and checks the result against the model: every live block keeps the fill bytes written into it, never
// overlaps another live block, honours its alignment, and has usable_size >= its size.
// Used by fuzz_test.cc (seeded PRNG) and libfuzzer_entry.cc (libFuzzer input bytes).
#ifndef TESTS_MISUSE_FUZZ_DRIVER_H
#define TESTS_MISUSE_FUZZ_DRIVER_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "allocator/brkmalloc.h"

namespace fuzz {

// Where choices come from. below(n) returns a value in [0, n) (n > 0).
class Choices {
 public:
  virtual ~Choices() = default;
  virtual uint32_t below(uint32_t n) = 0;
  virtual bool exhausted() const { return false; }
};

// splitmix64: a small deterministic generator for the seeded test.
class SeededChoices : public Choices {
 public:
  explicit SeededChoices(uint64_t seed) : state_(seed) {}
  uint32_t below(uint32_t n) override {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)((z >> 32) % n);
  }

 private:
  uint64_t state_;
};

// Reads choices from a byte string (libFuzzer input); reports exhaustion when the bytes run out.
class ByteChoices : public Choices {
 public:
  ByteChoices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint32_t below(uint32_t n) override {
    uint32_t v = 0;
    for (int i = 0; i < 3; i++) v = (v << 8) | (pos_ < size_ ? data_[pos_++] : 0);
    return v % n;
  }
  bool exhausted() const override { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

enum class Kind { kPlain, kAlignedAlloc, kMemalign };

struct Block {
  unsigned char* p;
  size_t size;   // bytes requested (and filled)
  size_t align;  // required alignment
  Kind kind;
  uint8_t seed;  // fill pattern
};

inline uint8_t fill_byte(uint8_t seed, size_t i) { return (uint8_t)(seed + i * 31 + (i >> 9)); }

// Blocks handed from one driver (thread) to another.
class Mailbox {
 public:
  void post(const Block& b) {
    std::lock_guard<std::mutex> g(mu_);
    blocks_.push_back(b);
  }
  bool take(Block* out) {
    std::lock_guard<std::mutex> g(mu_);
    if (blocks_.empty()) return false;
    *out = blocks_.front();
    blocks_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;
  std::deque<Block> blocks_;
};

class Driver {
 public:
  // Bounds on what the model keeps live (more frees are chosen near them).
  static constexpr size_t kMaxLive = 1500;
  static constexpr size_t kMaxLiveBytes = 24u << 20;

  Driver(Choices* c, Mailbox* mailbox = nullptr) : c_(c), mailbox_(mailbox), trace_(getenv("FUZZ_TRACE") != nullptr) {}
  ~Driver() { release_all(); }

  const std::string& error() const { return error_; }
  size_t ops() const { return ops_; }
  size_t live() const { return blocks_.size(); }

  // One random operation. Returns false (and sets error()) on the first mismatch.
  bool step() {
    ops_++;
    bool crowded = blocks_.size() >= kMaxLive || live_bytes_ >= kMaxLiveBytes;
    uint32_t op = c_->below(100);
    if (crowded && op < 60) op = 60 + op % 15;  // steer to frees / reallocs when full
    if (op < 22) return do_malloc();
    if (op < 28) return do_calloc();
    if (op < 34) return do_aligned(Kind::kAlignedAlloc);
    if (op < 38) return do_posix_memalign();
    if (op < 42) return do_aligned(Kind::kMemalign);
    if (op < 52) return do_realloc(false);
    if (op < 56) return do_realloc(true);
    if (op < 60) return do_usable_size();
    if (op < 72) return do_free(false);
    if (op < 80) return do_free(true);
    if (op < 84) return do_error_cases();
    if (op < 88) return do_mail();
    if (op < 92) return check_random_block();
    return do_free(false);
  }

  // Checks every live block's contents.
  bool check_all() {
    for (const Block& b : blocks_)
      if (!check_block(b, "check_all")) return false;
    return true;
  }

  void release_all() {
    for (const Block& b : blocks_) brk_free(b.p);
    blocks_.clear();
    ranges_.clear();
    live_bytes_ = 0;
  }

 private:
  // FUZZ_TRACE=1: one stderr line per allocator call (to replay a failure by hand).
  void trace(const char* call, const void* in, size_t a, size_t b, const void* out) {
    if (trace_) fprintf(stderr, "[%p] op %zu: %s(%p, %zu, %zu) -> %p\n", static_cast<void*>(this), ops_, call, in, a, b, out);
  }

  bool fail(const char* what, const Block* b = nullptr, size_t detail = 0) {
    char buf[256];
    if (b != nullptr)
      snprintf(buf, sizeof buf, "op %zu: %s (block %p size %zu align %zu, detail %zu)", ops_, what,
               static_cast<void*>(b->p), b->size, b->align, detail);
    else
      snprintf(buf, sizeof buf, "op %zu: %s (detail %zu)", ops_, what, detail);
    error_ = buf;
    return false;
  }

  size_t pick_size() {
    uint32_t r = c_->below(100);
    if (r < 45) return c_->below(129);                           // tiny
    if (r < 74) return 129 + c_->below(2048 - 129);              // small
    if (r < 88) return 2048 + c_->below(64 * 1024);              // medium
    if (r < 96) return 128 * 1024 - 4096 + c_->below(8193);      // around the mmap threshold
    return 128 * 1024 + c_->below(512 * 1024);                   // large
  }

  size_t pick_align() {
    uint32_t r = c_->below(100);
    if (r < 60) return (size_t)16 << c_->below(3);   // 16..64
    if (r < 90) return (size_t)128 << c_->below(6);  // 128..4096
    return (size_t)8192 << c_->below(4);             // 8 KiB..64 KiB
  }

  void fill(Block& b, size_t from = 0) {
    for (size_t i = from; i < b.size; i++) b.p[i] = fill_byte(b.seed, i);
  }

  bool check_block(const Block& b, const char* when) {
    for (size_t i = 0; i < b.size; i++)
      if (b.p[i] != fill_byte(b.seed, i)) return fail(when, &b, i);
    return true;
  }

  // Validates a fresh block and adds it to the model.
  bool adopt(Block b, const char* what) {
    if (b.p == nullptr) return fail(what, &b);
    if ((uintptr_t)b.p % b.align != 0) return fail("misaligned block", &b, (uintptr_t)b.p % b.align);
    if ((uintptr_t)b.p % 16 != 0) return fail("block not 16-byte aligned", &b);
    size_t usable = brk_usable_size(b.p);
    if (usable < b.size) return fail("usable_size below requested size", &b, usable);
    uintptr_t lo = (uintptr_t)b.p, hi = lo + (b.size ? b.size : 1);
    auto next = ranges_.lower_bound(lo);
    if (next != ranges_.end() && next->first < hi) return fail("overlaps a live block (above)", &b, next->first);
    if (next != ranges_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + (prev->second ? prev->second : 1) > lo)
        return fail("overlaps a live block (below)", &b, prev->first);
    }
    b.seed = (uint8_t)c_->below(256);
    fill(b);
    insert(b);
    return true;
  }

  void insert(const Block& b) {
    live_bytes_ += b.size;
    ranges_[(uintptr_t)b.p] = b.size;
    blocks_.push_back(b);
  }

  // Picks a live block (nullptr if none); the pointer is valid until the model changes.
  Block* pick_block() {
    if (blocks_.empty()) return nullptr;
    return &blocks_[c_->below((uint32_t)blocks_.size())];
  }

  // Removes a block (from pick_block) from the model and returns it.
  Block take(Block* b) {
    Block copy = *b;
    live_bytes_ -= copy.size;
    ranges_.erase((uintptr_t)copy.p);
    *b = blocks_.back();
    blocks_.pop_back();
    return copy;
  }

  bool do_malloc() {
    size_t n = pick_size();
    void* p = brk_malloc(n);
    trace("malloc", nullptr, n, 0, p);
    return adopt(Block{static_cast<unsigned char*>(p), n, 16, Kind::kPlain, 0}, "malloc returned NULL");
  }

  bool do_calloc() {
    size_t n = pick_size();
    size_t count = 1 + c_->below(16);
    size_t each = n / count;
    auto* p = static_cast<unsigned char*>(brk_calloc(count, each));
    trace("calloc", nullptr, count, each, p);
    Block b{p, count * each, 16, Kind::kPlain, 0};
    if (p == nullptr) return fail("calloc returned NULL", &b);
    for (size_t i = 0; i < b.size; i++)
      if (p[i] != 0) return fail("calloc block not zeroed", &b, i);
    return adopt(b, "calloc");
  }

  bool do_aligned(Kind kind) {
    size_t n = pick_size(), a = pick_align();
    void* p = kind == Kind::kAlignedAlloc ? brk_aligned_alloc(a, n) : brk_memalign(a, n);
    trace(kind == Kind::kAlignedAlloc ? "aligned_alloc" : "memalign", nullptr, a, n, p);
    return adopt(Block{static_cast<unsigned char*>(p), n, a, kind, 0},
                 kind == Kind::kAlignedAlloc ? "aligned_alloc returned NULL" : "memalign returned NULL");
  }

  bool do_posix_memalign() {
    size_t n = pick_size(), a = pick_align();
    if (c_->below(8) == 0) a = sizeof(void*);  // the smallest alignment POSIX allows
    void* p = nullptr;
    int rc = brk_posix_memalign(&p, a, n);
    trace("posix_memalign", nullptr, a, n, p);
    if (rc != 0) return fail("posix_memalign failed", nullptr, (size_t)rc);
    return adopt(Block{static_cast<unsigned char*>(p), n, a < 16 ? 16 : a, Kind::kMemalign, 0}, "posix_memalign");
  }

  bool do_realloc(bool array) {
    Block* b = pick_block();
    if (b == nullptr || c_->below(20) == 0) {  // realloc(NULL, n) is malloc(n)
      size_t n = pick_size();
      void* p = array ? brk_reallocarray(nullptr, 1, n) : brk_realloc(nullptr, n);
      trace(array ? "reallocarray" : "realloc", nullptr, 1, n, p);
      return adopt(Block{static_cast<unsigned char*>(p), n, 16, Kind::kPlain, 0}, "realloc(NULL) returned NULL");
    }
    if (!check_block(*b, "contents changed before realloc")) return false;
    Block old = take(b);
    size_t n;
    uint32_t how = c_->below(10);
    if (how < 3) n = old.size + c_->below(64);                     // grow a little (often in place)
    else if (how < 5 && old.size > 0) n = c_->below((uint32_t)old.size);  // shrink
    else n = pick_size();
    size_t count = 1, each = n;
    if (array) {
      count = 1 + c_->below(8);
      each = n / count;
      n = count * each;
    }
    void* p = array ? brk_reallocarray(old.p, count, each) : brk_realloc(old.p, n);
    trace(array ? "reallocarray" : "realloc", old.p, count, each, p);
    if (n == 0 && p == nullptr) return true;  // realloc(p, 0) frees p and returns NULL, as glibc does
    if (p == nullptr) return fail("realloc returned NULL", &old, n);
    Block nb{static_cast<unsigned char*>(p), n, 16, Kind::kPlain, old.seed};
    size_t keep = old.size < n ? old.size : n;
    for (size_t i = 0; i < keep; i++)
      if (nb.p[i] != fill_byte(old.seed, i)) return fail("realloc lost contents", &nb, i);
    // Re-adopt with the old prefix kept: check alignment/overlap, then restore the pattern.
    uint8_t seed = old.seed;
    if (!adopt(nb, "realloc")) return false;
    Block& now = blocks_.back();
    now.seed = seed;
    fill(now);
    return true;
  }

  bool do_usable_size() {
    Block* b = pick_block();
    if (b == nullptr) return true;
    size_t usable = brk_usable_size(b->p);
    trace("usable_size", b->p, b->size, 0, reinterpret_cast<void*>(usable));
    if (usable < b->size) return fail("usable_size below requested size", b, usable);
    // The slack beyond the requested size is the program's to use: write it, then check the block.
    if (usable - b->size <= 1 << 20) memset(b->p + b->size, 0xa5, usable - b->size);
    return check_block(*b, "writing the usable slack changed the block");
  }

  bool do_free(bool sized) {
    Block* b = pick_block();
    if (b == nullptr) return true;
    if (!check_block(*b, "contents changed before free")) return false;
    Block old = take(b);
    trace(sized ? "free_sized" : "free", old.p, old.size, old.align, nullptr);
    int saved = errno = 1000 + (int)c_->below(100);
    if (sized && old.kind == Kind::kPlain) brk_free_sized(old.p, old.size);
    else if (sized && old.kind == Kind::kAlignedAlloc) brk_free_aligned_sized(old.p, old.align, old.size);
    else brk_free(old.p);
    if (errno != saved) return fail("free changed errno", &old, (size_t)errno);
    return true;
  }

  bool do_error_cases() {
    switch (c_->below(6)) {
      case 0: {  // calloc overflow
        errno = 0;
        void* p = brk_calloc(SIZE_MAX / 2 + 1 + c_->below(1000), 2 + c_->below(100));
        if (p != nullptr || errno != ENOMEM) return fail("calloc overflow not NULL/ENOMEM", nullptr, (size_t)errno);
        return true;
      }
      case 1: {  // reallocarray overflow leaves the block alone
        Block* b = pick_block();
        if (b == nullptr) return true;
        errno = 0;
        trace("reallocarray(overflow)", b->p, SIZE_MAX / 4, 8, nullptr);
        void* p = brk_reallocarray(b->p, SIZE_MAX / 4, 8);
        if (p != nullptr || errno != ENOMEM) return fail("reallocarray overflow not NULL/ENOMEM", b, (size_t)errno);
        return check_block(*b, "reallocarray overflow changed the block");
      }
      case 2: {  // posix_memalign with a bad alignment leaves *out untouched
        void* sentinel = reinterpret_cast<void*>(0x1234);
        void* out = sentinel;
        int rc = brk_posix_memalign(&out, 48 + 32 * c_->below(4), 64);
        if (rc != EINVAL || out != sentinel) return fail("posix_memalign bad alignment not EINVAL", nullptr, (size_t)rc);
        return true;
      }
      case 3: {  // aligned_alloc with a non-power-of-two alignment
        errno = 0;
        void* p = brk_aligned_alloc(24, 48);
        if (p != nullptr || errno != EINVAL) return fail("aligned_alloc bad alignment not NULL/EINVAL", nullptr, (size_t)errno);
        return true;
      }
      case 4: {  // sizes above PTRDIFF_MAX
        errno = 0;
        void* p = brk_malloc((size_t)PTRDIFF_MAX + 1 + c_->below(1000));
        if (p != nullptr || errno != ENOMEM) return fail("malloc(>PTRDIFF_MAX) not NULL/ENOMEM", nullptr, (size_t)errno);
        return true;
      }
      default: {  // malloc(0) is unique and non-NULL; free(NULL) is a no-op
        brk_free(nullptr);
        void* p = brk_malloc(0);
        trace("malloc", nullptr, 0, 0, p);
        return adopt(Block{static_cast<unsigned char*>(p), 0, 16, Kind::kPlain, 0}, "malloc(0) returned NULL");
      }
    }
  }

  // Hands a block to another driver (thread) or adopts one handed over.
  bool do_mail() {
    if (mailbox_ == nullptr) return true;
    if (c_->below(2) == 0) {
      Block* b = pick_block();
      if (b == nullptr) return true;
      if (!check_block(*b, "contents changed before hand-over")) return false;
      trace("post", b->p, b->size, 0, nullptr);
      mailbox_->post(take(b));
      return true;
    }
    Block b;
    if (!mailbox_->take(&b)) return true;
    trace("take", b.p, b.size, 0, nullptr);
    if (!check_block(b, "contents changed during hand-over")) return false;
    insert(b);
    return true;
  }

  bool check_random_block() {
    Block* b = pick_block();
    return b == nullptr || check_block(*b, "contents changed");
  }

  Choices* c_;
  Mailbox* mailbox_;
  bool trace_;
  std::vector<Block> blocks_;         // the live blocks
  std::map<uintptr_t, size_t> ranges_;  // address -> size of each live block, for overlap checks
  size_t live_bytes_ = 0;
  size_t ops_ = 0;
  std::string error_;
};

}  // namespace fuzz

#endif
