// The stuck fork child's allocator (see fork_child.h). Only the child's one thread runs here, inside a
// signal handler, so nothing needs a lock; the region is one mapping, grown by replacing it never.
#include "allocator/fork_child.h"

#include "allocator/lock.h"
#include "allocator/os.h"

namespace brkmalloc {

bool g_fork_child_stuck = false;

namespace {

constexpr unsigned kMaxHeld = 64;
constexpr size_t kRegion = size_t{256} << 20;  // address space only, until touched
Lock* g_held[kMaxHeld];
unsigned g_num_held;
uintptr_t g_base, g_next, g_end;

}  // namespace

void fork_child_note_held(Lock* l) {
  if (g_num_held < kMaxHeld) g_held[g_num_held++] = l;
  g_fork_child_stuck = true;
}

bool fork_child_stuck_slow() {
  for (unsigned i = 0; i < g_num_held; ++i)
    if (g_held[i]->is_locked()) return true;
  g_fork_child_stuck = false;
  return false;
}

void* fork_child_alloc(size_t size, size_t align) {
  if (!g_base) {
    void* p = os::map(kRegion, kPageSize);
    if (!p) return nullptr;
    g_base = g_next = reinterpret_cast<uintptr_t>(p);
    g_end = g_base + kRegion;
  }
  if (align < kMinAlign) align = kMinAlign;
  // A 16-byte header before each block holds its size (for realloc and malloc_usable_size).
  uintptr_t p = align_up(g_next + kMinAlign, align);
  if (p < g_next || size > g_end - p) return nullptr;
  reinterpret_cast<size_t*>(p)[-1] = size;
  g_next = align_up(p + size, kMinAlign);
  return reinterpret_cast<void*>(p);
}

bool fork_child_owns(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  return a - g_base < g_end - g_base;
}

size_t fork_child_size(const void* p) { return static_cast<const size_t*>(p)[-1]; }

}  // namespace brkmalloc
