// Frees from other threads, in batches.
//
// A free of a block that another heap owns costs the freeing thread about what a local free costs: the
// block goes onto the freeing heap's own list for its class (Heap::foreign[cls]), with no atomic
// operation; it reads only the span's read-mostly line (span.h) and writes the block and the freeing
// heap, so it never takes the owner's hot line away from it. When a list reaches its cap
// (foreign_cap(cls): 16 KiB of blocks, at most 256), all of it goes back to the owning spans: blocks are
// grouped by span, and each group is pushed onto its span's thread_free with one CAS (the span's first
// pending group also queues the span on its heap's remote_spans with a second CAS, and the heap's first
// pending span asks the purger to look). The owner (on its slow paths), malloc_trim and the purger drain
// those lists under the owner heap's lock (drain_remote), so memory freed to an idle or exited thread
// comes back.
//
// The lists could also serve the freeing thread's own mallocs, as tcmalloc's and jemalloc's thread
// caches do (tried at 2b7240e^: the list became current[cls] while the span it replaced waited aside).
// Measured on 2 cores, that took our producer/consumer ring (bench ring-2t) from 0.92 s to 0.63 s, but
// made mimalloc-bench larsonN 1.26x and larsonN-sized 1.88x slower than before: a block
// never goes back to its owner while threads keep passing it on, so the blocks a thread uses lie
// interleaved with the owner's in the same lines and pages, and after larson's thread hand-overs the new
// threads recycle blocks of heaps that others are allocating from again. So it is off: blocks go home,
// in batches, and the owner reuses them.
//
// Blocks on a foreign list keep remote_mark (span.h): a second free of one is a double free wherever it
// happens, and the span's accounting counts them live until they reach the span again. A thread's lists
// are emptied when it exits, when it calls malloc_trim, and when they reach the cap; an idle live thread
// keeps what its lists hold (at most the cap per class), because only the thread itself touches them.
// Classes above kForeignMaxSize and the checking modes (full checks, glibc's perturb byte: every free
// then goes through free_slow, and encoded links would not survive a list that mixes spans) bypass the
// lists: each free goes to its span's thread_free at once.
#ifndef BRK_REMOTE_FREE_H
#define BRK_REMOTE_FREE_H

#include "allocator/span.h"

namespace brkmalloc {

struct Heap;

// Blocks of a class a foreign list may hold: at most 16 KiB of blocks and at most 256 of them, so a
// thread that goes idle strands at most 16 KiB per class. Classes above 4 KiB bypass the lists (a list of
// four such blocks would hardly batch anything, and each pins a span of its own class).
constexpr uint32_t kForeignMaxSize = 4096;
constexpr uint32_t foreign_cap(size_t size) {
  size_t n = 16384 / size;
  return n > 256 ? 256 : uint32_t(n);
}

// heap_free's way out when the block is not the thread's own (p's span s, maybe nullptr): in the default
// mode a checked small block goes onto this thread's foreign list; anything else to free_slow.
void free_other(void* p, Span* s);
// Frees block b of span s, owned by another heap, straight to its span (checked by the caller): the
// checking modes and the classes that bypass the lists.
void remote_free(Span* s, Block* b);
// Returns every block of h's foreign lists to its span (the owner, or under h->lock for a heap without
// one).
void foreign_flush_all(Heap* h);
// Blocks and bytes on h's foreign lists (relaxed reads: statistics).
void foreign_count(const Heap* h, size_t* blocks, size_t* bytes);
// Takes every pending remote free of h onto its spans' collected lists (under h->lock). `own`: the caller
// is the owner or the heap has none (span_settle). Returns spans given back.
size_t drain_remote(Heap* h, bool own);

}  // namespace brkmalloc

#endif
