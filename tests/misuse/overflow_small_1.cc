// Misuse: an off-by-one write (the NUL of a string one byte too long) just past the requested end of a
// 37-byte block, inside its size class's slack, then free.
#include "tests/misuse/misuse_common.h"

int main() { return overflow_then_free(37, 1); }
