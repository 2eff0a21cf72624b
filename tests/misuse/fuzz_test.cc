// Seeded random test of the prefixed API (see fuzz_driver.h): a few single-threaded seeds, then two threads
// that also hand blocks to each other (cross-thread frees). Deterministic per seed; short enough for the
// ASan/TSan configurations. Override with FUZZ_SEED=<n> (one seed) and FUZZ_OPS=<ops per run>.
#include <stdio.h>
#include <stdlib.h>

#include <thread>

#include "tests/misuse/fuzz_driver.h"

namespace {

bool run(fuzz::Driver& d, size_t ops, const char* label) {
  for (size_t i = 0; i < ops; i++) {
    if (!d.step() || (i % 4096 == 4095 && !d.check_all())) {
      fprintf(stderr, "FAIL %s: %s\n", label, d.error().c_str());
      return false;
    }
  }
  if (!d.check_all()) {
    fprintf(stderr, "FAIL %s: %s\n", label, d.error().c_str());
    return false;
  }
  return true;
}

}  // namespace

int main() {
  size_t ops = 15000;
  if (const char* e = getenv("FUZZ_OPS")) ops = strtoull(e, nullptr, 10);
  uint64_t seeds[] = {1, 2, 3};
  size_t nseeds = 3;
  if (const char* e = getenv("FUZZ_SEED")) {
    seeds[0] = strtoull(e, nullptr, 10);
    nseeds = 1;
  }
  int passed = 0, failed = 0;
  for (size_t s = 0; s < nseeds; s++) {
    fuzz::SeededChoices choices(seeds[s]);
    fuzz::Driver d(&choices);
    char label[64];
    snprintf(label, sizeof label, "seed %llu", (unsigned long long)seeds[s]);
    bool ok = run(d, ops, label);
    ok ? passed++ : failed++;
    printf("%s: %s after %zu ops (%zu blocks live at the end)\n", label, ok ? "ok" : "FAILED", d.ops(), d.live());
  }

  // Two threads sharing a mailbox: blocks allocated in one thread are checked, reallocated and freed in the other.
  fuzz::Mailbox mailbox;
  bool ok[2] = {false, false};
  size_t done[2] = {0, 0};
  std::thread threads[2];
  for (int t = 0; t < 2; t++) {
    threads[t] = std::thread([&, t] {
      fuzz::SeededChoices choices(seeds[0] * 1000 + t);
      fuzz::Driver d(&choices, &mailbox);
      ok[t] = run(d, ops / 2, t == 0 ? "thread 0" : "thread 1");
      done[t] = d.ops();
    });
  }
  for (auto& th : threads) th.join();
  fuzz::Block b;
  size_t drained = 0;
  while (mailbox.take(&b)) {
    brk_free(b.p);
    drained++;
  }
  for (int t = 0; t < 2; t++) {
    ok[t] ? passed++ : failed++;
    printf("thread %d: %s after %zu ops\n", t, ok[t] ? "ok" : "FAILED", done[t]);
  }
  printf("(%zu handed-over blocks freed by the main thread)\n", drained);
  printf("fuzz: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
