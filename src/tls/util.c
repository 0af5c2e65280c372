/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fetchbench/error.h"
#include "tls/tls_int.h"

#define ULP_PATH "/proc/sys/net/ipv4/tcp_available_ulp"

int fb_tls_ktls_available(void) {
  char line[256], *tok, *save = NULL;
  FILE *f = fopen(ULP_PATH, "re");
  int found = 0;

  if (f == NULL)
    return -errno;
  if (fgets(line, sizeof(line), f) != NULL) {
    for (tok = strtok_r(line, " \t\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\n", &save)) {
      if (strcmp(tok, "tls") == 0)
        found = 1;
    }
  }
  fclose(f);
  return found;
}

/* Bytes counted by their usable size: free() is given no size, and
 * malloc_usable_size is what the heap really holds for the block. */
static atomic_size_t mem_in_use;

static void *mem_malloc(size_t n, const char *file, int line) {
  void *p = malloc(n);
  if (p != NULL)
    atomic_fetch_add_explicit(&mem_in_use, malloc_usable_size(p),
                              memory_order_relaxed);
  return p;
}

static void mem_free(void *p, const char *file, int line) {
  if (p == NULL)
    return;
  atomic_fetch_sub_explicit(&mem_in_use, malloc_usable_size(p),
                            memory_order_relaxed);
  free(p);
}

static void *mem_realloc(void *p, size_t n, const char *file, int line) {
  size_t old = p != NULL ? malloc_usable_size(p) : 0;
  void *q;

  if (n == 0) {
    mem_free(p, file, line);
    return NULL;
  }
  q = realloc(p, n);

  if (q == NULL)
    return NULL; /* p is untouched, so is the count */
  atomic_fetch_sub_explicit(&mem_in_use, old, memory_order_relaxed);
  atomic_fetch_add_explicit(&mem_in_use, malloc_usable_size(q),
                            memory_order_relaxed);
  return q;
}

int fb_tls_mem_count_start(void) {
  if (!CRYPTO_set_mem_functions(mem_malloc, mem_realloc, mem_free))
    return FB_ETLS;
  return 0;
}

size_t fb_tls_mem_in_use(void) {
  return atomic_load_explicit(&mem_in_use, memory_order_relaxed);
}
