// The OS layer: the only file that calls mmap, munmap, mremap, mprotect and madvise.
//
// Contract of each call:
// - reserve: address space only (PROT_NONE, no memory, no commit charge); aligned as asked; nullptr on failure.
// - commit: makes reserved pages readable and writable; fresh pages read as zero. false on failure.
// - decommit: drops the pages (RSS falls at once) and makes them inaccessible again, as lowering a break does.
// - purge: drops the pages but keeps them accessible; the next touch faults in a zero page.
// - map: a fresh private anonymous read-write mapping, zero-filled, aligned as asked; nullptr on failure.
// - unmap: munmap.
// - protect: makes pages inaccessible (guard pages) or readable and writable again; false on failure
//   (the kernel may refuse to split a mapping past vm.max_map_count).
// - advise_hugepages: asks for transparent huge pages (MADV_HUGEPAGE) on the 2 MiB-aligned whole huge
//   pages inside [p, p + size); the rest is left alone. false if there are none or the kernel refuses.
// - remap: resizes a mapping, in place or by moving its pages wherever the kernel finds room
//   (MREMAP_MAYMOVE: no copy, and no more address space than the new size); nullptr on failure, old mapping
//   intact.
// - mappings_created: how many mappings reserve and map have created (a statistic: the kernel caps a
//   process's mappings at vm.max_map_count).
// None of them sets errno for the caller: the API layer sets ENOMEM itself.
#ifndef BRK_OS_H
#define BRK_OS_H

#include <stddef.h>
#include <stdint.h>

namespace brkmalloc {
namespace os {

void* reserve(size_t size, size_t align);
bool commit(void* p, size_t size);
void decommit(void* p, size_t size);
void purge(void* p, size_t size);
void* map(size_t size, size_t align);
void unmap(void* p, size_t size);
bool protect(void* p, size_t size, bool accessible);
void* remap(void* p, size_t old_size, size_t new_size);
size_t mappings_created();
bool advise_hugepages(void* p, size_t size);
// Bytes of the process resident in memory (from /proc/self/statm); 0 if unreadable.
size_t resident_bytes();
// Sleeps while *word == expected, at most timeout_ms (~0: no limit), or until wake(word). May return early.
void wait_on(const uint32_t* word, uint32_t expected, uint64_t timeout_ms);
void wake(const uint32_t* word);
// Milliseconds on a monotonic clock (vDSO, no system call in practice).
uint64_t now_ms();

}  // namespace os
}  // namespace brkmalloc

#endif
