// The C++ allocation operators (every operator new/delete form libstdc++ exports), forwarding to the
// prefixed API, without a link-time dependency on libstdc++ or libgcc_s.
//
// Why: libbrkmalloc.so is preloaded into C programs too (ls, git, bash), where a NEEDED libstdc++.so.6
// (with libm and libgcc_s) would load about 3 MB that nothing uses. So every libstdc++/libgcc symbol the
// operators need is a WEAK undefined reference (the `.weak` directives below, which also cover the names
// the compiler itself emits for the try/catch: the personality routine, __cxa_begin_catch/end_catch, the
// catch clause's type_info, _Unwind_Resume):
//   - in a C++ program libstdc++ is loaded (or linked) beside us and they resolve to it, so operator new
//     calls the program's new-handler and throws a std::bad_alloc the program's own `catch` takes;
//   - in a C program they stay null: nobody can catch, no handler can have been set, and a failing
//     operator new (only reachable if a C++ library is dlopen'ed into a C program with RTLD_LOCAL, or a
//     fully static C++ program links no throw support) reports and aborts, as an uncaught throw would.
// Invariant: no strong reference to anything outside libc leaves this file (tests/api/deps_test.sh checks
// the .so's NEEDED list; the C static-link test links the archive without -lstdc++).
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <new>
#include <typeinfo>

#include "allocator/brkmalloc.h"

// What the throwing path and the nothrow path's try/catch need from libstdc++ and libgcc.
asm(".weak _ZSt15get_new_handlerv");       // std::get_new_handler()
asm(".weak _ZSt17__throw_bad_allocv");     // std::__throw_bad_alloc(): throw std::bad_alloc()
asm(".weak __cxa_allocate_exception");
asm(".weak __cxa_throw");
asm(".weak _ZTVSt9bad_alloc");             // vtable for std::bad_alloc
asm(".weak _ZTISt9bad_alloc");             // typeinfo for std::bad_alloc (also the catch clause's)
asm(".weak _ZNSt9bad_allocD1Ev");          // std::bad_alloc::~bad_alloc()
asm(".weak __gxx_personality_v0");
asm(".weak __cxa_begin_catch");
asm(".weak __cxa_end_catch");
asm(".weak _Unwind_Resume");

namespace std {
[[noreturn]] void __throw_bad_alloc();
}
extern "C" {
void* __cxa_allocate_exception(size_t) noexcept;
[[noreturn]] void __cxa_throw(void*, std::type_info*, void (*)(void*));
}
extern char bad_alloc_vtable[] asm("_ZTVSt9bad_alloc");
extern char bad_alloc_typeinfo[] asm("_ZTISt9bad_alloc");
void bad_alloc_destructor(void*) asm("_ZNSt9bad_allocD1Ev");

namespace {

// The weak references, read through a volatile pointer so the compiler cannot assume an address is
// non-null (it may, for a declaration it does not know is weak).
template <typename T>
bool present(T* sym) {
  T* volatile p = sym;
  return p != nullptr;
}

std::new_handler current_handler() { return present(&std::get_new_handler) ? std::get_new_handler() : nullptr; }

[[noreturn]] void no_runtime_abort() {
  static const char msg[] =
      "brkmalloc: operator new is out of memory and no C++ runtime is linked to throw std::bad_alloc\n";
  ssize_t unused = write(2, msg, sizeof msg - 1);
  (void)unused;
  abort();
}

[[noreturn]] __attribute__((noinline, cold)) void throw_bad_alloc() {
  if (present(&std::__throw_bad_alloc)) std::__throw_bad_alloc();
  // A fully static program may have linked libstdc++'s exception objects without functexcept.o.
  if (present(&__cxa_allocate_exception) && present(&__cxa_throw) && present(bad_alloc_vtable) &&
      present(bad_alloc_typeinfo) && present(&bad_alloc_destructor)) {
    void* e = __cxa_allocate_exception(sizeof(std::bad_alloc));
    // A std::bad_alloc is its vtable pointer alone (the Itanium ABI puts the address point 16 bytes in).
    static_assert(sizeof(std::bad_alloc) == sizeof(void*), "std::bad_alloc layout");
    *static_cast<void**>(e) = bad_alloc_vtable + 2 * sizeof(void*);
    __cxa_throw(e, reinterpret_cast<std::type_info*>(bad_alloc_typeinfo), bad_alloc_destructor);
  }
  no_runtime_abort();
}

// The new-handler loop: call the handler until the allocation succeeds or there is none, then throw
// std::bad_alloc, or return nullptr for the nothrow forms (where a handler throwing bad_alloc also ends
// in nullptr, as libstdc++'s nothrow new does).
template <bool kNothrow>
__attribute__((noinline)) void* new_retry(size_t n, size_t align) {
  for (;;) {
    std::new_handler handler = current_handler();
    if (!handler) {
      if (kNothrow) return nullptr;
      throw_bad_alloc();
    }
    if (kNothrow) {
      try {
        handler();
      } catch (const std::bad_alloc&) {
        return nullptr;
      }
    } else {
      handler();
    }
    void* p = align ? brk_aligned_alloc(align, n) : brk_malloc(n);
    if (p) return p;
  }
}

template <bool kNothrow>
inline void* cpp_new(size_t n) {
  void* p = brk_malloc(n);
  return __builtin_expect(p != nullptr, 1) ? p : new_retry<kNothrow>(n, 0);
}

template <bool kNothrow>
inline void* cpp_new_aligned(size_t n, std::align_val_t a) {
  void* p = brk_aligned_alloc(size_t(a), n);
  return __builtin_expect(p != nullptr, 1) ? p : new_retry<kNothrow>(n, size_t(a));
}

}  // namespace

#define BRK_CPP __attribute__((visibility("default")))
BRK_CPP void* operator new(size_t n) { return cpp_new<false>(n); }
BRK_CPP void* operator new[](size_t n) { return cpp_new<false>(n); }
BRK_CPP void* operator new(size_t n, const std::nothrow_t&) noexcept { return cpp_new<true>(n); }
BRK_CPP void* operator new[](size_t n, const std::nothrow_t&) noexcept { return cpp_new<true>(n); }
BRK_CPP void* operator new(size_t n, std::align_val_t a) { return cpp_new_aligned<false>(n, a); }
BRK_CPP void* operator new[](size_t n, std::align_val_t a) { return cpp_new_aligned<false>(n, a); }
BRK_CPP void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return cpp_new_aligned<true>(n, a);
}
BRK_CPP void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return cpp_new_aligned<true>(n, a);
}

BRK_CPP void operator delete(void* p) noexcept { brk_free(p); }
BRK_CPP void operator delete[](void* p) noexcept { brk_free(p); }
BRK_CPP void operator delete(void* p, const std::nothrow_t&) noexcept { brk_free(p); }
BRK_CPP void operator delete[](void* p, const std::nothrow_t&) noexcept { brk_free(p); }
BRK_CPP void operator delete(void* p, size_t n) noexcept { brk_free_sized(p, n); }
BRK_CPP void operator delete[](void* p, size_t n) noexcept { brk_free_sized(p, n); }
BRK_CPP void operator delete(void* p, std::align_val_t) noexcept { brk_free(p); }
BRK_CPP void operator delete[](void* p, std::align_val_t) noexcept { brk_free(p); }
BRK_CPP void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { brk_free(p); }
BRK_CPP void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { brk_free(p); }
BRK_CPP void operator delete(void* p, size_t n, std::align_val_t a) noexcept {
  brk_free_aligned_sized(p, size_t(a), n);
}
BRK_CPP void operator delete[](void* p, size_t n, std::align_val_t a) noexcept {
  brk_free_aligned_sized(p, size_t(a), n);
}
