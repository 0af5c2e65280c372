/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <jansson.h>

#include "json-check.h"

/* The checks lean on jansson, Debian's libjansson: a strict RFC 8259
 * parser that validates UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF) and refuses control characters in strings. NUL is let
 * through (\u0000), as fb_json_string writes it.
 */

long fz_json_value(const char *s, size_t len) {
  json_error_t err;
  /* Integers as reals: JSON has no size limit for them, jansson's ints stop
   * at 2^63 and our counters are unsigned 64-bit.
   */
  json_t *v = json_loadb(
      s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);

  if (v == NULL)
    return -1;
  json_decref(v);
  return (long)len;
}

long fz_json_string_decode(const char *s, size_t len, char *out) {
  json_error_t err;
  json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  long n = -1;

  if (v != NULL && json_is_string(v)) {
    n = (long)json_string_length(v);
    memcpy(out, json_string_value(v), (size_t)n);
  }
  json_decref(v);
  return n;
}

int fz_utf8_valid(const unsigned char *s, size_t len) {
  /* json_stringn refuses bytes that are not UTF-8. */
  json_t *v = json_stringn((const char *)s, len);

  json_decref(v);
  return v != NULL;
}
