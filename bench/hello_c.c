/* Smallest C program that uses the allocator (one malloc, one printf): the start-up section's C case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char* p = malloc(64);
  if (!p) return 1;
  strcpy(p, "hello");
  printf("%s\n", p);
  free(p);
  return 0;
}
