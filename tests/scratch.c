/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "scratch.h"

static char dir[128];

int scratch_create(const char *name) {
  snprintf(dir, sizeof(dir), "/tmp/fb-test-%s-XXXXXX", name);
  return mkdtemp(dir) != NULL ? 0 : -1;
}

const char *scratch_dir(void) {
  return dir;
}

int scratch_remove(void) {
  char cmd[160];

  if (dir[0] == '\0')
    return 0;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

const char *scratch_path(const char *name) {
  static char path[16][256];
  static int next;
  char *p = path[next++ % 16];

  snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
  return p;
}

const char *scratch_write(const char *name, const void *data, size_t len) {
  const char *p = scratch_path(name);
  FILE *f = fopen(p, "wb");

  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return p;
}
