// The allocator of a forked child whose only thread is inside an allocator section of its own.
//
// A signal handler may call fork() while its thread holds an allocator lock (the signal interrupted
// malloc). The child's only thread is then that same thread, still inside the interrupted section, which
// resumes only when the handler returns: until then the structures behind that lock are half-updated and
// the lock can never be taken. glibc's child in that state corrupts its heap; ours must neither corrupt
// nor wait for ever. The same holds for a lock that fork's prepare could not take in that state (another
// thread held it, waiting for ours): in the child its holder does not exist. So fork.cc marks the child,
// and while any lock still locked after the fork is locked, a slow path that would need one serves the request from a small bump region of its own instead
// (blocks there are never reused; free of them does nothing), and a free that would need one leaves its
// block in place. Once the interrupted sections are done, everything is normal again. The fast paths are
// untouched (they take no lock).
#ifndef BRK_FORK_CHILD_H
#define BRK_FORK_CHILD_H

#include "allocator/config.h"

namespace brkmalloc {

class Lock;

extern bool g_fork_child_stuck;  // set only in such a child, by fork.cc
// True while a lock held at the fork is still held (clears the flag once none is).
bool fork_child_stuck_slow();
BRK_INLINE bool fork_child_stuck() { return BRK_UNLIKELY(g_fork_child_stuck) && fork_child_stuck_slow(); }
// Remembers a lock the forking thread held (fork.cc, in the child).
void fork_child_note_held(Lock* l);

// The bump region: a block of `size` bytes aligned to `align`; nullptr when out of memory.
void* fork_child_alloc(size_t size, size_t align);
bool fork_child_owns(const void* p);
size_t fork_child_size(const void* p);  // usable bytes of one of its blocks

}  // namespace brkmalloc

#endif
