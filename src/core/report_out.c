/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report_int.h"
#include "fetchbench/histogram.h"
#include "fetchbench/report.h"
#include "fetchbench/summary.h"

static int write_error(void) {
  return errno != 0 ? -errno : -EIO;
}

void fb__out_printf(struct fb__out *o, const char *fmt, ...) {
  va_list ap;
  int n;

  if (o->rc != 0)
    return;
  errno = 0;
  va_start(ap, fmt);
  n = vfprintf(o->f, fmt, ap);
  va_end(ap);
  if (n < 0)
    o->rc = write_error();
}

void fb__sb_printf(struct fb__sb *b, const char *fmt, ...) {
  va_list ap;
  int n;

  if (b->len >= b->size)
    return;
  va_start(ap, fmt);
  n = vsnprintf(b->buf + b->len, b->size - b->len, fmt, ap);
  va_end(ap);
  if (n < 0)
    b->buf[b->len] = '\0';
  else if ((size_t)n >= b->size - b->len)
    b->len = b->size - 1;
  else
    b->len += (size_t)n;
}

char *fb__shortest_double(char *buf, size_t size, double v) {
  /* Whole numbers read better as such: %g would write 70 as "7e+01". */
  if (v == trunc(v) && fabs(v) < 1e15) {
    snprintf(buf, size, "%.0f", v);
    return buf;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  return buf;
}

void fb__out_json_number(struct fb__out *o, double v) {
  char buf[40];

  if (!isfinite(v)) {
    fb__out_printf(o, "null");
    return;
  }
  if (v == 0)
    v = 0; /* no "-0" */
  fb__out_printf(o, "%s", fb__shortest_double(buf, sizeof(buf), v));
}

void fb__out_json_string(struct fb__out *o, const char *s, size_t len) {
  if (o->rc == 0)
    o->rc = fb_json_string(o->f, s, len);
}

int fb__out_end(struct fb__out *o) {
  if (o->rc != 0)
    return o->rc;
  errno = 0;
  /* A write that failed in an earlier buffer flush sets the error flag; the
   * flush retries what is left and fails again with the same errno.
   */
  if (fflush(o->f) != 0 || ferror(o->f))
    o->rc = write_error();
  return o->rc;
}

char *fb__number(char *buf, size_t size, double v) {
  double a = fabs(v);

  if (v == 0) {
    snprintf(buf, size, "0");
    return buf;
  }
  if (a >= 1e-4 && a < 1e15)
    for (int prec = 0; prec <= 20; prec++) {
      snprintf(buf, size, "%.*f", prec, v);
      if (strtod(buf, NULL) == v)
        return buf;
    }
  return fb__shortest_double(buf, size, v);
}

void fb__out_number(struct fb__out *o, double v) {
  char buf[64];

  if (!isfinite(v))
    fb__out_printf(o, "null");
  else
    fb__out_printf(o, "%s", fb__number(buf, sizeof(buf), v));
}

static void hist(struct fb__out *o, const char *name,
                 const struct fb_histogram *h) {
  const char *sep = "";

  fb__out_printf(o, ",\"%s\":{\"count\":%" PRIu64, name, h->count);
  if (h->count > 0)
    fb__out_printf(o, ",\"min\":%" PRIu64 ",\"max\":%" PRIu64, h->min, h->max);
  else
    fb__out_printf(o, ",\"min\":null,\"max\":null");
  fb__out_printf(o, ",\"buckets\":[");
  for (size_t b = 0; b < FB_HIST_BUCKETS && o->rc == 0; b++) {
    if (h->buckets[b] == 0)
      continue;
    fb__out_printf(o, "%s[%" PRIu64 ",%" PRIu64 "]", sep,
                   fb_histogram_bucket_low(b), h->buckets[b]);
    sep = ",";
  }
  fb__out_printf(o, "]}");
}

void fb__out_hists(struct fb__out *o, const struct fb_summary_hists *h) {
  if (h == NULL) {
    fb__out_printf(o, "null");
    return;
  }
  fb__out_printf(o, "{\"unit\":\"ns\",\"sub_buckets\":%u", FB_HIST_SUB);
  hist(o, "latency", &h->latency);
  hist(o, "ttfb", &h->ttfb);
  hist(o, "tls", &h->tls);
  /* Open loop only: a closed-loop run has no due times. */
  if (h->corrected.count > 0) {
    hist(o, "corrected", &h->corrected);
    hist(o, "queue", &h->queue);
  }
  fb__out_printf(o, "}");
}
