// The hardened mode (BRKMALLOC_CHECKS=hardened): the same allocator, with every malloc and free on the
// checked slow paths (it implies the full checks) and these on top, each in a file named for it:
// - hardened_canary: every block ends with a tail word holding its requested size and alignment (keyed
//   with a secret and the block's address), and the slack between the requested end and that word holds a
//   pattern derived from the secret; free, realloc and malloc_usable_size check both, so a write of even
//   one byte past the requested size is reported. malloc_usable_size reports the requested size.
// - guard pages: a big block (above the size classes) ends with a PROT_NONE page after its tail word, so a
//   long linear overflow faults at once (SIGSEGV); short ones hit the canary first.
// - zero-on-free: a freed small block is filled with zero and tagged; it must still be zero while it waits
//   in quarantine and when it leaves it (the only way back to a free list, so before it is handed out
//   again), or the write after free is reported.
// - hardened_quarantine: freed small blocks wait in a bounded ring (one of 16, by thread) before their span
//   may reuse them;
//   they count as free (a second free is a double free); each malloc also checks one waiting block;
//   malloc_trim flushes the ring.
// - hardened_zero_size: malloc(0) returns a unique address in a reserved PROT_NONE region (any access
//   faults); free, realloc and malloc_usable_size (0) work on it and a second free is a double free.
// - sized and aligned delete are checked against the recorded size and alignment exactly.
// The mode is fixed by runtime_init before the first block is handed out; the default mode's fast paths
// never test it (every hook is on a slow path the hardened mode sends everything to).
#ifndef BRK_HARDENED_H
#define BRK_HARDENED_H

#include "allocator/span.h"

namespace brkmalloc {

extern bool g_hardened;

// Once, from runtime_init_slow (no allocation): secrets and the zero-size region.
void hardened_init();

// The API's hardened entry points (api.cc hooks, heap.cc's free_slow). They set errno as the API does.
void* hardened_alloc(size_t size, size_t align);  // align: a power of two, at least kMinAlign
void* hardened_calloc(size_t total);
void* hardened_realloc(void* p, size_t size);
void hardened_free(void* p, Span* s);
size_t hardened_usable_size(const void* p);
void hardened_free_sized(void* p, size_t align /* 0: not checked */, size_t size);

// hardened_quarantine.cc: takes a freed, zeroed small block; frees for real what falls out of the ring.
void quarantine_push(Block* b, size_t cap);
void quarantine_flush();
// Checks one waiting block (round-robin), from each small hardened malloc.
void quarantine_audit();
// Empties the calling thread's shard (heap_life.cc, at thread exit).
void quarantine_thread_exit();
// fork.cc: the shard locks, taken after every other lock (they are leaves), like heap_fork_lock.
void quarantine_fork_lock(unsigned depth, bool try_only);
bool quarantine_fork_any_held_by_me();
void quarantine_fork_unlock(unsigned depth);
void quarantine_fork_child_note_held();
// Reports a block in quarantine that is no longer as its free left it (hardened.cc); `audit`: the check
// while it waits, which reads only the block's first 256 bytes (its release reads all of it).
void quarantine_check(const Block* b, size_t cap, bool audit);
// Checks that a block leaving quarantine is untouched, then frees it for real (hardened.cc).
void quarantine_release(Block* b, size_t cap);

// hardened_zero_size.cc.
void zero_size_init();
void* zero_size_alloc();
bool zero_size_owns(const void* p);
bool zero_size_live(const void* p);
void zero_size_free(void* p);  // reports a double free

}  // namespace brkmalloc

#endif
