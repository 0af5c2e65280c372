/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "origin/origin_int.h"

/* A decimal number of at most max; returns 0 or -400. */
static int number(const char *v, size_t len, uint64_t max, uint64_t *out) {
  uint64_t n = 0;

  if (len == 0 || len > 20)
    return -400;
  for (size_t i = 0; i < len; i++) {
    uint64_t d = (uint64_t)(v[i] - '0');

    if (v[i] < '0' || v[i] > '9' || d > max || n > (max - d) / 10)
      return -400;
    n = n * 10 + d;
  }
  *out = n;
  return 0;
}

static int key_is(const char *k, size_t klen, const char *name) {
  return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

static int one(const char *k, size_t klen, const char *v, size_t vlen,
               struct fb__query *q) {
  uint64_t n;

  if (key_is(k, klen, "delay") || key_is(k, klen, "jitter")) {
    if (number(v, vlen, FB__MAX_DELAY_MS, &n) < 0)
      return -400;
    if (k[0] == 'd') {
      q->has_delay = 1;
      q->delay_ms = (unsigned)n;
    } else {
      q->has_jitter = 1;
      q->jitter_ms = (unsigned)n;
    }
  } else if (key_is(k, klen, "rate")) {
    if (number(v, vlen, UINT64_MAX, &n) < 0)
      return -400;
    q->has_rate = 1;
    q->rate = n;
  } else if (key_is(k, klen, "fault")) {
    if (vlen == 4 && memcmp(v, "none", 4) == 0) {
      q->fault = FB_FAULT_NONE;
    } else {
      int f = fb_fault_parse(v, vlen);
      /* A handshake's fault cannot ride on a request. */
      if (f < 0 || fb_fault_in_handshake((enum fb_fault)f))
        return -400;
      q->fault = f;
    }
  } else if (key_is(k, klen, "status")) {
    /* Informational and body-less statuses would change the framing. */
    if (number(v, vlen, 599, &n) < 0 || n < 200 || n == 204 || n == 304)
      return -400;
    q->has_status = 1;
    q->status = (int)n;
  } else if (key_is(k, klen, "rtt")) {
    if (number(v, vlen, FB__MAX_RTT_MS, &n) < 0)
      return -400;
    q->has_rtt = 1;
    q->rtt_ms = (unsigned)n;
  } else if (key_is(k, klen, "close")) {
    if (number(v, vlen, 1, &n) < 0)
      return -400;
    q->close = (int)n;
  }
  return 0;
}

int fb__query_parse(const char *s, size_t len, struct fb__query *q) {
  const char *end = s + len;

  memset(q, 0, sizeof(*q));
  q->fault = -1;
  while (s < end) {
    const char *amp = memchr(s, '&', (size_t)(end - s));
    const char *pend = amp != NULL ? amp : end;
    const char *eq = memchr(s, '=', (size_t)(pend - s));

    if (pend > s) {
      const char *kend = eq != NULL ? eq : pend;
      const char *v = eq != NULL ? eq + 1 : pend;
      if (one(s, (size_t)(kend - s), v, (size_t)(pend - v), q) < 0)
        return -400;
    }
    if (amp == NULL)
      break;
    s = amp + 1;
  }
  return 0;
}
