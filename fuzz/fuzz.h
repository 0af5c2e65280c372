/* SPDX-License-Identifier: MIT */
#ifndef FB_FUZZ_H
#define FB_FUZZ_H

/* What every fuzz target defines: libFuzzer's entry point. The same files
 * build with libFuzzer (-Dfuzz=enabled, clang) and, in every build, with
 * replay.c's main() that runs them over their corpus as a regression test.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct fb_compare;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A check that failed: prints what and aborts, which libFuzzer reports as a
 * crash and saves the input.
 */
#define FZ_CHECK(cond)                                                         \
  do {                                                                         \
    if (!(cond))                                                               \
      fz_fail(__FILE__, __LINE__, #cond);                                      \
  } while (0)

void fz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

/* What writer makes of cmp, checked to succeed: a malloc'ed buffer of *len
 * bytes (NUL-terminated).
 */
char *fz_written(int (*writer)(FILE *, const struct fb_compare *),
                 const struct fb_compare *cmp, size_t *len);

#endif /* FB_FUZZ_H */
