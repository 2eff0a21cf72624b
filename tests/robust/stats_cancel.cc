// malloc_stats() called by a thread with a pending cancellation request (glibc's
// tst-malloc-stats-cancellation, bug 22830): deferred cancellation acts at the first cancellation point,
// and write(2) is one, so an allocator that writes its statistics with write (or fprintf) without
// disabling cancellation loses them. The statistics must all reach stderr; the thread must still be
// cancelled at the later fputs. stderr is a pipe read by another thread, as in glibc's test (writes to
// memory streams are not cancellation points).
// "All" is judged against a reference call from a thread without a pending cancellation: the same lines,
// compared with digits removed (the figures change between the two calls, the lines' text does not), and
// the same last line. Passes iff the cancelled thread's output has the reference's first line, last line
// and every other kind of line, the thread was cancelled, and the fputs after malloc_stats printed nothing.
#include <malloc.h>
#include <pthread.h>

#include <set>
#include <string>
#include <vector>

#include "tests/robust/robust_common.h"

static void* call_stats(void* gate) {
  if (gate) pthread_barrier_wait((pthread_barrier_t*)gate);  // not a cancellation point
  malloc_stats();
  fputs("this call should trigger cancellation\n", stderr);
  return NULL;
}

static void* drain(void* arg) {
  int fd = *(int*)arg;
  std::string* out = new std::string;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out->append(buf, (size_t)n);
  close(fd);
  return out;
}

// The output with stderr redirected to a pipe drained by a thread; *cancelled says how `thread` ended.
static std::string capture(bool cancel, bool* cancelled) {
  fflush(stderr);
  int saved = dup(2);
  int p[2];
  if (saved < 0 || pipe(p) != 0) {
    FAILF("dup/pipe: %s\n", strerror(errno));
    return "";
  }
  dup2(p[1], 2);
  close(p[1]);
  pthread_t reader, t;
  pthread_create(&reader, NULL, drain, &p[0]);
  pthread_barrier_t gate;
  pthread_barrier_init(&gate, NULL, 2);
  pthread_create(&t, NULL, call_stats, &gate);
  if (cancel) pthread_cancel(t);
  pthread_barrier_wait(&gate);
  void* rv;
  pthread_join(t, &rv);
  *cancelled = rv == PTHREAD_CANCELED;
  pthread_barrier_destroy(&gate);
  fflush(stderr);
  dup2(saved, 2);  // the pipe's last write end closes: the reader sees EOF
  close(saved);
  void* out;
  pthread_join(reader, &out);
  std::string s = *(std::string*)out;
  delete (std::string*)out;
  return s;
}

static std::vector<std::string> shapes(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : text) {
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else if (c >= '0' && c <= '9') {
      if (cur.empty() || cur.back() != '#') cur += '#';
    } else if (c == ' ' || c == '\t') {
      if (!cur.empty() && cur.back() != ' ') cur += ' ';
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

int main() {
  void* warm = malloc(1000);  // something for the statistics to count
  escape(warm);
  bool cancelled = false;
  std::string ref = capture(false, &cancelled);
  const char* marker = "this call should trigger cancellation";
  if (ref.find(marker) == std::string::npos) FAILF("reference run: the fputs after malloc_stats printed nothing\n");
  ref.erase(ref.find(marker) == std::string::npos ? ref.size() : ref.find(marker));
  std::vector<std::string> want = shapes(ref);
  say("info: reference malloc_stats output: %zu bytes, %zu lines\n", ref.size(), want.size());
  if (want.empty()) {
    FAILF("malloc_stats printed nothing even without cancellation\n");
    return 1;
  }

  std::string got_text = capture(true, &cancelled);
  std::vector<std::string> got = shapes(got_text);
  say("info: with a pending cancellation: %zu bytes, %zu lines, thread %s\n", got_text.size(), got.size(),
      cancelled ? "cancelled" : "NOT cancelled");
  if (!cancelled) FAILF("the thread was not cancelled\n");
  if (got_text.find(marker) != std::string::npos) FAILF("the fputs after malloc_stats produced output\n");
  if (got.empty()) {
    FAILF("no malloc_stats output at all with a pending cancellation\n");
  } else {
    if (got.front() != want.front()) FAILF("first line differs: %s\n", got.front().c_str());
    if (got.back() != want.back())
      FAILF("incomplete: last line %s, expected one like %s\n", got.back().c_str(), want.back().c_str());
    std::set<std::string> a(want.begin(), want.end()), b(got.begin(), got.end());
    for (const std::string& s : a)
      if (!b.count(s)) FAILF("missing a line like: %s\n", s.c_str());
  }
  free(warm);
  return g_failures ? 1 : 0;
}
