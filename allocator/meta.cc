// Span records carved from 64 KiB mappings (see meta.h).
#include "allocator/meta.h"

#include <string.h>

#include "allocator/lock.h"
#include "allocator/os.h"

namespace brkmalloc {

Lock g_meta_lock;

namespace {

constexpr size_t kChunk = size_t{64} << 10;
Span* g_free_records;
char* g_bump;
char* g_bump_end;
size_t g_mapped;

}  // namespace

Span* meta_new_span() {
  LockGuard g(g_meta_lock);
  Span* s = g_free_records;
  if (s) {
    g_free_records = s->next;
  } else {
    if (size_t(g_bump_end - g_bump) < sizeof(Span)) {  // no pointer arithmetic on a null g_bump
      char* chunk = static_cast<char*>(os::map(kChunk, kPageSize));
      if (!chunk) return nullptr;
      g_mapped += kChunk;
      g_bump = chunk;
      g_bump_end = chunk + kChunk;
    }
    s = reinterpret_cast<Span*>(g_bump);
    g_bump += sizeof(Span);
  }
  memset(s, 0, sizeof *s);
  return s;
}

void meta_delete_span(Span* s) {
  LockGuard g(g_meta_lock);
  s->kind = kFree;
  s->owner = nullptr;
  s->next = g_free_records;
  g_free_records = s;
}

size_t meta_mapped_bytes() { return g_mapped; }

}  // namespace brkmalloc
