// Symbols for the leak report (see prof_symbols.h).
#include "allocator/prof_symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

namespace brkmalloc {

namespace {

bool read_at(int fd, void* buf, size_t n, uint64_t off) {
  char* p = static_cast<char*>(buf);
  while (n) {
    ssize_t r = pread(fd, p, n, off_t(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= size_t(r);
    off += uint64_t(r);
  }
  return true;
}

// The FUNC symbol of the ELF file `fd` that holds link-time address `a`, from .symtab.
bool symtab_lookup(int fd, uint64_t a, ProfSymbol* out) {
  Elf64_Ehdr eh;
  if (!read_at(fd, &eh, sizeof eh, 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_shentsize != sizeof(Elf64_Shdr))
    return false;
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!read_at(fd, &sh, sizeof sh, eh.e_shoff + uint64_t(i) * sizeof sh)) return false;
    if (sh.sh_type != SHT_SYMTAB || sh.sh_entsize != sizeof(Elf64_Sym)) continue;
    Elf64_Shdr strs;
    if (!read_at(fd, &strs, sizeof strs, eh.e_shoff + uint64_t(sh.sh_link) * sizeof strs)) return false;
    Elf64_Sym chunk[128];
    uint64_t count = sh.sh_size / sizeof(Elf64_Sym), best_name = 0, best_value = 0;
    bool found = false;
    for (uint64_t k = 0; k < count; k += 128) {
      uint64_t m = count - k < 128 ? count - k : 128;
      if (!read_at(fd, chunk, m * sizeof(Elf64_Sym), sh.sh_offset + k * sizeof(Elf64_Sym))) return false;
      for (uint64_t j = 0; j < m; ++j) {
        const Elf64_Sym& s = chunk[j];
        if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || !s.st_value) continue;
        if (a >= s.st_value && a < s.st_value + (s.st_size ? s.st_size : 1)) {
          found = true;
          best_name = s.st_name;
          best_value = s.st_value;
        }
      }
      if (found) break;
    }
    if (!found) return false;
    size_t cap = sizeof out->name - 1;
    if (best_name >= strs.sh_size) return false;
    if (strs.sh_size - best_name < cap) cap = size_t(strs.sh_size - best_name);
    if (!read_at(fd, out->name, cap, strs.sh_offset + best_name)) return false;
    out->name[cap] = 0;
    out->offset = uintptr_t(a - best_value) + 1;
    return true;
  }
  return false;
}

}  // namespace

void prof_symbolize(uintptr_t ra, ProfSymbol* out) {
  out->name[0] = 0;
  out->offset = 0;
  out->file = nullptr;
  out->file_offset = 0;
  Dl_info info;
  uintptr_t a = ra - 1;
  if (!dladdr(reinterpret_cast<void*>(a), &info)) {
    // A fully static program has no link map: its own file, if position-dependent (checked below).
    info.dli_fname = nullptr;
    info.dli_fbase = nullptr;
    info.dli_sname = nullptr;
    info.dli_saddr = nullptr;
  }
  out->file = info.dli_fname && info.dli_fname[0] ? info.dli_fname : nullptr;
  uintptr_t base = reinterpret_cast<uintptr_t>(info.dli_fbase);
  out->file_offset = ra - base;
  if (info.dli_sname && info.dli_saddr) {
    size_t n = strlen(info.dli_sname);
    if (n >= sizeof out->name) n = sizeof out->name - 1;
    memcpy(out->name, info.dli_sname, n);
    out->name[n] = 0;
    out->offset = ra - reinterpret_cast<uintptr_t>(info.dli_saddr);
    return;
  }
  // The main program's name may be relative to a directory it has left: its own link is exact.
  int fd = -1;
  if (out->file) fd = open(out->file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  Elf64_Ehdr eh;
  // A position-dependent program's symbols hold run-time addresses; others are relative to the base.
  bool fixed = read_at(fd, &eh, sizeof eh, 0) && eh.e_type == ET_EXEC;
  if ((fixed || base) && !symtab_lookup(fd, fixed ? a : a - base, out)) out->name[0] = 0;
  close(fd);
}

}  // namespace brkmalloc
