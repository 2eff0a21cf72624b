// Command-line parsing shared by the stress programs, and the --expect-brkmalloc proof (malloc_info's header).
#include "tests/stress/stress_common.h"

#include <signal.h>

namespace stress {

Options g_opt;
LastOp g_last[kMaxTraced];

static void crash_report(int sig) {
  char line[256];
  int n = snprintf(line, sizeof line, "%s seed=%llu: signal %d; last allocator call per worker:\n", g_opt.prog,
                   (unsigned long long)g_opt.seed, sig);
  ssize_t w = write(2, line, (size_t)n);
  for (int t = 0; t < kMaxTraced; t++) {
    const LastOp& l = g_last[t];
    if (!l.op) continue;
    n = snprintf(line, sizeof line, "  worker %d: %s(%p, %zu) -> %p size %zu%s\n", t, l.op, l.in, l.in_n, l.out,
                 l.out_n, l.out ? "" : " (call in progress)");
    w = write(2, line, (size_t)n);
  }
  (void)w;
  signal(sig, SIG_DFL);
  raise(sig);
}

static bool g_tolerate_mi700 = false;
static std::atomic<uint64_t> g_tolerated{0};

bool tolerate_misaligned(size_t align, size_t size) {
  if (!g_tolerate_mi700 || align < 256 || align > 1024) return false;
  if (size != 0 && ((size & (size - 1)) != 0 || size < align || size > 1024)) return false;
  g_tolerated++;
  return true;
}
uint64_t tolerated_misaligned_count() { return g_tolerated.load(); }

static void usage(const char* prog) {
  fprintf(stderr,
          "usage: %s [--long] [--seconds S] [--scale F] [--seed N] [--strict] [--promise-return] "
          "[--expect-brkmalloc] [--threads N]\n",
          prog);
  exit(2);
}

#ifndef STRESS_PREFIXED
// malloc_info's first line names the allocator; brkmalloc writes <malloc version="brkmalloc-1">.
static void check_brkmalloc_in_use() {
  char* text = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&text, &len);
  if (!f) fail("open_memstream failed");
  int rc = malloc_info(0, f);
  fclose(f);
  bool ok = rc == 0 && text && strstr(text, "<malloc version=\"brkmalloc-1\">") == text;
  if (!ok) {
    char head[64] = {0};
    if (text) strncpy(head, text, sizeof head - 1);
    for (char* c = head; *c; c++)
      if (*c == '\n') *c = ' ';
    free(text);
    fail("--expect-brkmalloc: malloc_info does not show brkmalloc (rc=%d, starts \"%s\")", rc, head);
  }
  free(text);
}
#endif

void parse_args(const char* prog, int argc, char** argv) {
  g_opt.prog = prog;
  g_opt.seed = (uint64_t)time(nullptr) ^ ((uint64_t)getpid() << 20);
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(prog);
      return argv[++i];
    };
    if (a == "--long") g_opt.long_mode = true;
    else if (a == "--seconds") g_opt.seconds = atof(value());
    else if (a == "--scale") g_opt.scale = atof(value());
    else if (a == "--seed") g_opt.seed = strtoull(value(), nullptr, 0);
    else if (a == "--strict") g_opt.strict = true;
    else if (a == "--promise-return") g_opt.promise_return = true;
    else if (a == "--expect-brkmalloc") g_opt.expect_brkmalloc = true;
    else if (a == "--threads") g_opt.threads = atol(value());
    else usage(prog);
  }
  if (g_opt.scale <= 0) usage(prog);
  signal(SIGABRT, crash_report);
  signal(SIGSEGV, crash_report);
  signal(SIGBUS, crash_report);
  note("seed=%llu%s%s%s", (unsigned long long)g_opt.seed, g_opt.long_mode ? " long" : "",
       g_opt.strict ? " strict" : "", g_opt.promise_return ? " promise-return" : "");
  const char* t = getenv("STRESS_TOLERATE_MIMALLOC_700");
  g_tolerate_mi700 = t && *t && strcmp(t, "0") != 0;
  if (g_tolerate_mi700)
    note("tolerating misaligned blocks of alignment 256..1024 with power-of-two sizes up to 1024 "
         "(STRESS_TOLERATE_MIMALLOC_700: mimalloc issue #700)");
#ifndef STRESS_PREFIXED
  if (g_opt.expect_brkmalloc) check_brkmalloc_in_use();
#else
  if (g_opt.expect_brkmalloc) fail("--expect-brkmalloc makes no sense for the prefixed build");
#endif
}

}  // namespace stress
