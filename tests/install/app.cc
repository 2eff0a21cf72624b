// A C++ program built with CMake against the installed brkmalloc (tests/install/CMakeLists.txt): prints
// "allocator=brkmalloc" when malloc_info says brkmalloc serves both new and malloc.
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

int main() {
  std::vector<std::unique_ptr<std::string>> v;
  for (int i = 0; i < 1000; i++) v.push_back(std::make_unique<std::string>(100 + i, 'x'));
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (!f) return 2;
  malloc_info(0, f);
  fclose(f);
  bool brk = buf && strstr(buf, "<malloc version=\"brkmalloc-1\">") && strstr(buf, "<size from=");
  free(buf);
  printf("allocator=%s strings=%zu\n", brk ? "brkmalloc" : "other", v.size());
  return 0;
}
