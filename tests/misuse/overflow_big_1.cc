// Misuse: an off-by-one NUL write just past the requested end of a 200,000-byte block (its own mapping,
// above the 128 KiB threshold), then free.
#include "tests/misuse/misuse_common.h"

int main() { return overflow_then_free(200000, 1); }
