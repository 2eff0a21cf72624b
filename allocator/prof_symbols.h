// Names for the leak report's frames, without allocating: dladdr (in libc since glibc 2.34) knows the
// dynamic symbol tables; for the functions only a file's .symtab names (static functions, a program not
// linked with -rdynamic), the ELF file itself is read with pread from a stack buffer. Used at exit only
// (it is slow: a scan of the symbol table per frame).
#ifndef BRK_PROF_SYMBOLS_H
#define BRK_PROF_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

namespace brkmalloc {

struct ProfSymbol {
  char name[160];     // empty when unknown
  uintptr_t offset;   // of the address from the function's start
  const char* file;   // the object holding the address (nullptr when unknown)
  uintptr_t file_offset;  // of the address from the object's load base
};

// Symbolizes a return address (looked up at address - 1, inside the call instruction).
void prof_symbolize(uintptr_t return_address, ProfSymbol* out);

}  // namespace brkmalloc

#endif
