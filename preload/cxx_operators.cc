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
//   - in a C program they stay null: nobody can catch and no handler can have been set;
//   - in a C program that later dlopen()s a C++ library they are null too, and the failure path looks the
//     loaded libstdc++ up by name (late_symbol);
//   - a fully static C++ program has only the libstdc++ members it pulls in itself: std::__throw_bad_alloc,
//     or else the exception ABI, which any program that catches and throws has. If nothing can throw,
//     a failing operator new reports and aborts, as an uncaught throw would.
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
// Only their presence matters: without them this file's own catch clause cannot work.
extern char cxx_personality[] asm("__gxx_personality_v0");
extern char cxx_begin_catch[] asm("__cxa_begin_catch");

namespace {

// The weak references, read through a volatile pointer so the compiler cannot assume an address is
// non-null (it may, for a declaration it does not know is weak).
template <typename T>
bool present(T* sym) {
  T* volatile p = sym;
  return p != nullptr;
}

}  // namespace

// A C program that dlopen()s a C++ library (RTLD_LOCAL, as Python loads extensions) loads libstdc++ after
// us: our weak references were bound, to null, when we were loaded. On the failure path alone, the .so
// finds the loaded libstdc++ by name (late_cxx_runtime.cc, linked into libbrkmalloc.so only, so that a
// static link never sees dlopen); this weak default serves the archive, where libstdc++ is linked or absent.
extern "C" __attribute__((weak, visibility("hidden"))) void* brk_late_cxx_symbol(const char*) { return nullptr; }

namespace {

void* late_symbol(const char* name) { return brk_late_cxx_symbol(name); }

std::new_handler current_handler() {
  if (present(&std::get_new_handler)) return std::get_new_handler();
  auto get = reinterpret_cast<std::new_handler (*)()>(late_symbol("_ZSt15get_new_handlerv"));
  return get ? get() : nullptr;
}

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
  if (auto late = reinterpret_cast<void (*)()>(late_symbol("_ZSt17__throw_bad_allocv"))) late();
  no_runtime_abort();
}

// The new-handler loop: call the handler until the allocation succeeds or there is none, then throw
// std::bad_alloc, or return nullptr for the nothrow forms (where a handler throwing bad_alloc also ends
// in nullptr, as libstdc++'s nothrow new does).
// When this file's catch cannot work (libstdc++ arrived by dlopen), the nothrow forms go to libstdc++'s
// own, which call our throwing operator new (interposed) and catch what it throws.
void* late_nothrow_new(size_t n, size_t align) {
  const std::nothrow_t nothrow;  // not std::nothrow, an object of libstdc++'s
  if (align) {
    auto f = reinterpret_cast<void* (*)(size_t, std::align_val_t, const std::nothrow_t&)>(
        late_symbol("_ZnwmSt11align_val_tRKSt9nothrow_t"));
    return f ? f(n, std::align_val_t(align), nothrow) : nullptr;
  }
  auto f = reinterpret_cast<void* (*)(size_t, const std::nothrow_t&)>(late_symbol("_ZnwmRKSt9nothrow_t"));
  return f ? f(n, nothrow) : nullptr;
}

// The allocating functions live in the section whose frames the heap profiler cuts off its stacks
// (allocator/prof.h, BRK_ALLOC_PATH).
#define BRK_ALLOCATING __attribute__((section("brk_alloc_path")))

template <bool kNothrow>
__attribute__((noinline)) BRK_ALLOCATING void* new_retry(size_t n, size_t align) {
  for (;;) {
    std::new_handler handler = current_handler();
    if (!handler) {
      if (kNothrow) return nullptr;
      throw_bad_alloc();
    }
    if (kNothrow && !(present(cxx_personality) && present(cxx_begin_catch))) return late_nothrow_new(n, align);
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
BRK_CPP BRK_ALLOCATING void* operator new(size_t n) { return cpp_new<false>(n); }
BRK_CPP BRK_ALLOCATING void* operator new[](size_t n) { return cpp_new<false>(n); }
BRK_CPP BRK_ALLOCATING void* operator new(size_t n, const std::nothrow_t&) noexcept { return cpp_new<true>(n); }
BRK_CPP BRK_ALLOCATING void* operator new[](size_t n, const std::nothrow_t&) noexcept { return cpp_new<true>(n); }
BRK_CPP BRK_ALLOCATING void* operator new(size_t n, std::align_val_t a) { return cpp_new_aligned<false>(n, a); }
BRK_CPP BRK_ALLOCATING void* operator new[](size_t n, std::align_val_t a) { return cpp_new_aligned<false>(n, a); }
BRK_CPP BRK_ALLOCATING void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return cpp_new_aligned<true>(n, a);
}
BRK_CPP BRK_ALLOCATING void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
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
