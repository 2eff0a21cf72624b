// Misuse: an 8-byte write (a pointer-sized field) just past the requested end of a 40-byte block, then free.
#include "tests/misuse/misuse_common.h"

int main() { return overflow_then_free(40, 8); }
