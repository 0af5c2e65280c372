/* SPDX-License-Identifier: MIT */
/* Runs a fuzz target over files and directories of inputs without
 * libFuzzer: the regression test of the committed corpus (seeds and the
 * crashers that fuzzing found), in every build.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char *data = NULL;
  size_t size = 0, cap = 0, n;

  if (f == NULL) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  do {
    if (size == cap) {
      unsigned char *bigger = realloc(data, cap ? cap * 2 : 4096);
      if (bigger == NULL) {
        fclose(f);
        free(data);
        return -1;
      }
      data = bigger;
      cap = cap ? cap * 2 : 4096;
    }
    n = fread(data + size, 1, cap - size, f);
    size += n;
  } while (n > 0);
  fclose(f);
  LLVMFuzzerTestOneInput(data, size);
  free(data);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order; returns how many. */
static long run_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0, cap = 0;
  long ran = 0;

  if (d == NULL) {
    fprintf(stderr, "%s: %s\n", dir, strerror(errno));
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **bigger = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));
      if (bigger == NULL)
        break;
      names = bigger;
      cap = cap ? cap * 2 : 64;
    }
    names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
    if (names[n] == NULL)
      break;
    sprintf(names[n], "%s/%s", dir, e->d_name);
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof(*names), by_name);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) &&
        run_file(names[i]) == 0)
      ran++;
    free(names[i]);
  }
  free(names);
  return ran;
}

int main(int argc, char **argv) {
  long total = 0;

  for (int i = 1; i < argc; i++) {
    struct stat st;
    long ran;

    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
      return 1;
    }
    ran = S_ISDIR(st.st_mode) ? run_dir(argv[i])
                              : (run_file(argv[i]) == 0 ? 1 : -1);
    if (ran < 0)
      return 1;
    total += ran;
  }
  printf("%ld inputs replayed\n", total);
  return total > 0 ? 0 : 1;
}
