#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

void fz_fail(const char *file, int line, const char *what) {
  fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  abort();
}
