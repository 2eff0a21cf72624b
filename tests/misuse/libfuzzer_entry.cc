// libFuzzer entry point: the input bytes choose the operations of fuzz_driver.h's model-checked driver on
// brkmalloc's prefixed API; any mismatch aborts (a "crash" for libFuzzer). Built by build_libfuzzer.sh.
#include <stdio.h>
#include <stdlib.h>

#include "tests/misuse/fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ByteChoices choices(data, size);
  fuzz::Driver d(&choices);
  while (!choices.exhausted()) {
    if (!d.step()) {
      fprintf(stderr, "brkmalloc fuzz: %s\n", d.error().c_str());
      abort();
    }
  }
  if (!d.check_all()) {
    fprintf(stderr, "brkmalloc fuzz: %s\n", d.error().c_str());
    abort();
  }
  return 0;  // the driver's destructor frees what is still live
}
