/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "origin/origin_int.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Strict UTF-8: no overlong forms (so "%c0%ae" is not a dot), no surrogates,
 * nothing above U+10FFFF.
 */
static int utf8_valid(const unsigned char *s, size_t len) {
  size_t i = 0;

  while (i < len) {
    unsigned char c = s[i];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;

    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0)
        lo = 0xa0;
      if (c == 0xed)
        hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0)
        lo = 0x90;
      if (c == 0xf4)
        hi = 0x8f;
    } else {
      return 0;
    }
    if (len - i - 1 < n)
      return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
      return 0;
    for (size_t k = 2; k <= n; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xbf)
        return 0;
    i += n + 1;
  }
  return 1;
}

/* Skips "http://authority" of an absolute-form target. */
static const char *skip_authority(const char *t, const char *end) {
  size_t n = (size_t)(end - t);
  const char *p;

  if (n >= 7 && strncasecmp(t, "http://", 7) == 0)
    p = t + 7;
  else if (n >= 8 && strncasecmp(t, "https://", 8) == 0)
    p = t + 8;
  else
    return t;
  while (p < end && *p != '/' && *p != '?')
    p++;
  return p;
}

int fb__path_normalize(const char *target, size_t len, char *out,
                       size_t outlen) {
  const char *end = target + len, *q, *t;
  unsigned char *dec = (unsigned char *)out;
  size_t dlen = 0, olen = 0, seg;
  int dir = 1;

  t = skip_authority(target, end);
  q = memchr(t, '?', (size_t)(end - t));
  if (q != NULL)
    end = q;
  if (t == end && t != target)
    t = "/", end = t + 1; /* "http://host" alone */
  if (t == end || *t != '/')
    return -400;
  if ((size_t)(end - t) + 16 > outlen)
    return -400;
  /* Decode in place into out first; the decoded form is never longer. */
  for (const char *p = t; p < end; p++) {
    unsigned char c = (unsigned char)*p;

    if (c == '%') {
      int h1, h2;
      if (end - p < 3 || (h1 = hexval(p[1])) < 0 || (h2 = hexval(p[2])) < 0)
        return -400;
      c = (unsigned char)(h1 << 4 | h2);
      p += 2;
    } else if (c >= 0x80) {
      return -400;
    }
    if (c < 0x20 || c == 0x7f || c == '\\' || c == '#')
      return -400;
    dec[dlen++] = c;
  }
  if (!utf8_valid(dec, dlen))
    return -400;
  /* Resolve segments from left to right; the output never overtakes the
   * input, so the same buffer serves both.
   */
  for (size_t i = 0; i < dlen; i = seg + 1) {
    size_t n;

    seg = i;
    while (seg < dlen && dec[seg] != '/')
      seg++;
    n = seg - i;
    dir = 1;
    if (n == 0 || (n == 1 && dec[i] == '.'))
      continue;
    if (n == 2 && dec[i] == '.' && dec[i + 1] == '.') {
      if (olen == 0)
        return -400;
      while (olen > 0 && out[olen - 1] != '/')
        olen--;
      if (olen > 0)
        olen--; /* the '/' before the dropped segment */
      continue;
    }
    if (olen > 0)
      out[olen++] = '/';
    memmove(out + olen, dec + i, n);
    olen += n;
    dir = seg == dlen ? 0 : 1;
  }
  if (dir) {
    static const char index[] = "index.html";
    if (olen > 0)
      out[olen++] = '/';
    memcpy(out + olen, index, sizeof(index) - 1);
    olen += sizeof(index) - 1;
  }
  out[olen] = '\0';
  return (int)olen;
}
