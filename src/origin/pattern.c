/* SPDX-License-Identifier: MIT */
#include <pthread.h>

#include "origin/origin_int.h"

/* The repeated patterns of generated bodies (/__bytes/N, the huge_body and
 * endless faults): filled once, shared by every connection.
 */

static char text_pattern[FB__PATTERN];
static pthread_once_t text_once = PTHREAD_ONCE_INIT;

static void text_init(void) {
  static const char alphabet[] = FB__ALPHABET;

  for (size_t i = 0; i < FB__PATTERN; i++)
    text_pattern[i] = alphabet[i % 64];
}

const char *fb__pattern_text(void) {
  pthread_once(&text_once, text_init);
  return text_pattern;
}
