// A C++ program for cxx_new_test.sh, run under LD_PRELOAD=libbrkmalloc.so and linked with libbrkmalloc.a
// (whole archive, dynamic and -static): brkmalloc's operator new must call the program's new-handler, then
// throw a std::bad_alloc that the program's own catch takes; nothrow new must return nullptr, also when the
// handler throws bad_alloc. brkmalloc reaches libstdc++ only through weak references, so this is what
// proves those references resolve. Prints one line per check; exits non-zero on any failure. Built with
// -DCXX_NEW_AS_LIBRARY it is a shared library whose cxx_new_checks() dlopen_main.c runs.
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <new>

namespace {

int failures = 0;
int handler_calls = 0;

void check(bool ok, const char* what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) failures++;
}

// Sizes the compiler cannot see through (it may otherwise fold a huge new into a throw of its own).
size_t opaque(size_t n) {
  volatile size_t v = n;
  return v;
}
const size_t kTooBig = (size_t)PTRDIFF_MAX + 1;

void counting_handler() {
  handler_calls++;
  std::set_new_handler(nullptr);  // uninstall: the next failure throws / returns nullptr
}
void throwing_handler() {
  handler_calls++;
  throw std::bad_alloc();
}

template <typename F>
bool throws_bad_alloc(F f) {
  try {
    f();
  } catch (const std::bad_alloc& e) {
    return strstr(e.what(), "bad_alloc") != nullptr;  // a real std::bad_alloc, with its what()
  } catch (...) {
    return false;
  }
  return false;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int cxx_new_checks() {
  // The memory is brkmalloc's (not libstdc++'s or glibc's): operator new's block is one malloc_info knows.
  static char info[1 << 16];
  FILE* f = fmemopen(info, sizeof info - 1, "w");
  bool identity = f && malloc_info(0, f) == 0;
  if (f) fclose(f);
  check(identity && strncmp(info, "<malloc version=\"brkmalloc-1\">", 30) == 0, "malloc_info is brkmalloc's");
  void* p = ::operator new(opaque(100));
  check(p != nullptr && malloc_usable_size(p) >= 100, "operator new(100) gives a block malloc_usable_size knows");
  ::operator delete(p);

  check(throws_bad_alloc([] { (void)::operator new(opaque(kTooBig)); }), "operator new(huge) throws std::bad_alloc");
  check(throws_bad_alloc([] { (void)::operator new[](opaque(kTooBig), std::align_val_t{64}); }),
        "aligned operator new[](huge) throws std::bad_alloc");

  handler_calls = 0;
  std::set_new_handler(counting_handler);
  check(throws_bad_alloc([] { (void)::operator new(opaque(kTooBig)); }), "with a handler: still throws at the end");
  check(handler_calls == 1, "the new-handler was called once before the throw");

  check(::operator new(opaque(kTooBig), std::nothrow) == nullptr, "nothrow new(huge) returns nullptr");
  handler_calls = 0;
  std::set_new_handler(counting_handler);
  check(::operator new[](opaque(kTooBig), std::nothrow) == nullptr && handler_calls == 1,
        "nothrow new[](huge) calls the handler, then returns nullptr");
  handler_calls = 0;
  std::set_new_handler(throwing_handler);
  check(::operator new(opaque(kTooBig), std::align_val_t{128}, std::nothrow) == nullptr && handler_calls == 1,
        "nothrow aligned new(huge) returns nullptr when the handler throws bad_alloc");
  std::set_new_handler(nullptr);

  printf("%s\n", failures ? "FAILED" : "PASSED");
  return failures ? 1 : 0;
}

#ifndef CXX_NEW_AS_LIBRARY
int main() { return cxx_new_checks(); }
#endif
