/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

void fz_fail(const char *file, int line, const char *what) {
  fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  abort();
}

char *fz_written(int (*writer)(FILE *, const struct fb_compare *),
                 const struct fb_compare *cmp, size_t *len) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);

  FZ_CHECK(f != NULL);
  FZ_CHECK(writer(f, cmp) == 0);
  FZ_CHECK(fclose(f) == 0);
  return buf;
}
