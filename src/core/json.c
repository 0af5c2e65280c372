/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/report_int.h"
#include "fetchbench/report.h"

/* Output is staged in a small buffer so a long string costs a few fwrite
 * calls, not one per byte.
 */
struct out {
  FILE *f;
  size_t len;
  int rc;
  char buf[512];
};

static void out_flush(struct out *o) {
  errno = 0;
  if (o->len > 0 && o->rc == 0 && fwrite(o->buf, 1, o->len, o->f) != o->len)
    o->rc = errno != 0 ? -errno : -EIO;
  o->len = 0;
}

static void out_bytes(struct out *o, const char *s, size_t n) {
  if (o->len + n > sizeof(o->buf))
    out_flush(o);
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

static void out_escape(struct out *o, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

  switch (c) {
  case '"':
    out_bytes(o, "\\\"", 2);
    break;
  case '\\':
    out_bytes(o, "\\\\", 2);
    break;
  case '\b':
    out_bytes(o, "\\b", 2);
    break;
  case '\f':
    out_bytes(o, "\\f", 2);
    break;
  case '\n':
    out_bytes(o, "\\n", 2);
    break;
  case '\r':
    out_bytes(o, "\\r", 2);
    break;
  case '\t':
    out_bytes(o, "\\t", 2);
    break;
  default:
    out_bytes(o, e, sizeof(e));
    break;
  }
}

size_t fb__utf8_valid(const unsigned char *s, size_t n, size_t *bad) {
  unsigned char lo = 0x80, hi = 0xbf;
  size_t need, i;

  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    need = 2;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    need = 3;
    if (s[0] == 0xe0)
      lo = 0xa0; /* overlong */
    else if (s[0] == 0xed)
      hi = 0x9f; /* surrogates */
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    need = 4;
    if (s[0] == 0xf0)
      lo = 0x90; /* overlong */
    else if (s[0] == 0xf4)
      hi = 0x8f; /* above U+10FFFF */
  } else {
    *bad = 1; /* stray continuation, C0, C1 or F5..FF */
    return 0;
  }
  for (i = 1; i < need; i++) {
    if (i >= n || s[i] < lo || s[i] > hi) {
      *bad = i;
      return 0;
    }
    lo = 0x80;
    hi = 0xbf;
  }
  return need;
}

int fb_json_string(FILE *out, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  struct out o;
  size_t i = 0;

  o.f = out;
  o.len = 0;
  o.rc = 0;
  out_bytes(&o, "\"", 1);
  while (i < len && o.rc == 0) {
    unsigned char c = p[i];
    size_t run = i;

    /* Plain ASCII goes out in runs. DEL is legal JSON but escaped so that
     * no control character reaches a terminal.
     */
    while (run < len && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
           p[run] != '\\')
      run++;
    if (run > i) {
      while (i < run) {
        size_t n = run - i < sizeof(o.buf) ? run - i : sizeof(o.buf);
        out_bytes(&o, s + i, n);
        i += n;
      }
      continue;
    }
    if (c < 0x80) {
      out_escape(&o, c);
      i++;
    } else {
      size_t bad = 0, ok = fb__utf8_valid(p + i, len - i, &bad);
      if (ok > 0) {
        out_bytes(&o, s + i, ok);
        i += ok;
      } else {
        out_bytes(&o, "\xef\xbf\xbd", 3);
        i += bad;
      }
    }
  }
  out_bytes(&o, "\"", 1);
  out_flush(&o);
  if (o.rc == 0 && ferror(out))
    o.rc = -EIO;
  return o.rc;
}
