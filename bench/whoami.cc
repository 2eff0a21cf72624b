// Reports which allocator serves malloc in this process: the object that defines the malloc symbol
// (dladdr) and the first line of malloc_info (brkmalloc's starts with <malloc version="brkmalloc-1">).
// The runner uses it to prove each configuration really runs the allocator it is labelled with.
#include <dlfcn.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main() {
  void* volatile p = malloc(100);
  Dl_info info;
  memset(&info, 0, sizeof info);
  void* (*volatile m)(size_t) = &malloc;
  if (dladdr((void*)m, &info) && info.dli_fname) printf("malloc_object=%s\n", info.dli_fname);
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f) {
    malloc_info(0, f);
    fclose(f);
    char* nl = buf ? strchr(buf, '\n') : nullptr;
    if (nl) *nl = 0;
    printf("malloc_info=%s\n", buf ? buf : "");
    free(buf);
  }
  free(p);
  return 0;
}
