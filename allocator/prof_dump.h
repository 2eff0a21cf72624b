// Writing what the heap profiler holds: profiles in gperftools' heap-profile text format, which
// google-pprof and jeprof read, and the leak report. Everything here runs under g_prof_lock, writes with
// write(2) from one mapped buffer and never calls malloc (prof.h).
#ifndef BRK_PROF_DUMP_H
#define BRK_PROF_DUMP_H

#include <stddef.h>
#include <stdint.h>

namespace brkmalloc {

// The profiler's process-wide state (prof.cc owns it; under g_prof_lock except rate and interval, fixed
// at start-up).
struct ProfState {
  uint64_t rate = 512 << 10;  // mean bytes between samples
  uint64_t interval = 0;      // dump each time the estimated live bytes grow by this much (0: never)
  double next_dump = 0;       // ... that is, when they pass this
  double live_est = 0;        // estimated bytes of every live sampled site
  unsigned seq = 0;           // the last numbered profile written by this process (a child starts again)
};
extern ProfState g_prof;

// Maps the output buffer and keeps a copy of stderr for the leak report (prof_start; may fail quietly).
void prof_dump_init();
// <prefix>.<pid>.<seq>.heap with the next sequence number; false if it does not fit.
bool prof_numbered_path(char* out, size_t cap);
// The profile (heap_v2, raw sampled counts, then MAPPED_LIBRARIES: and /proc/self/maps). False with
// errno set when the file cannot be written.
bool prof_write_profile_file(const char* path);
// Live sampled sites, largest estimate first, to stderr (BRKMALLOC_LEAKS=1) or appended to the file named.
void prof_write_leaks();

}  // namespace brkmalloc

#endif
