// Misuse: an 8-byte write just past the requested end of a big block whose size (50 pages minus 8 bytes)
// leaves no slack before a page boundary, then free.
#include "tests/misuse/misuse_common.h"

int main() { return overflow_then_free(50 * 4096 - 8, 8); }
