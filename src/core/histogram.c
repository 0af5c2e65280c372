/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "fetchbench/error.h"
#include "fetchbench/histogram.h"

/* Buckets come in groups of FB_HIST_SUB. Group 0 holds 0 .. FB_HIST_SUB - 1
 * one value per bucket; group g >= 1 holds [2^(g-1+SUB_BITS), 2^(g+SUB_BITS))
 * in FB_HIST_SUB buckets 2^(g-1) wide. So a bucket is never wider than
 * 1/FB_HIST_SUB of its lower bound.
 */
static size_t bucket_of(uint64_t v) {
  unsigned e, shift;

  if (v < FB_HIST_SUB)
    return (size_t)v;
  if (v >> FB_HIST_MAX_EXP)
    return FB_HIST_BUCKETS - 1;
  e = 63u - (unsigned)__builtin_clzll(v);
  shift = e - FB_HIST_SUB_BITS;
  return (size_t)(shift + 1) * FB_HIST_SUB +
         (size_t)((v >> shift) - FB_HIST_SUB);
}

uint64_t fb_histogram_bucket_low(size_t b) {
  size_t g = b / FB_HIST_SUB, s = b % FB_HIST_SUB;

  if (g == 0)
    return s;
  return (uint64_t)(FB_HIST_SUB + s) << (g - 1);
}

static uint64_t bucket_mid(size_t b) {
  size_t g = b / FB_HIST_SUB;

  if (g == 0)
    return fb_histogram_bucket_low(b);
  return fb_histogram_bucket_low(b) + ((uint64_t)1 << (g - 1)) / 2;
}

int fb_histogram_put(struct fb_histogram *h, uint64_t low, uint64_t count) {
  size_t b = bucket_of(low);

  if (fb_histogram_bucket_low(b) != low || h->count + count < h->count ||
      h->buckets[b] + count < h->buckets[b])
    return FB_ERANGE;
  h->buckets[b] += count;
  h->count += count;
  return 0;
}

void fb_histogram_init(struct fb_histogram *h) {
  memset(h, 0, sizeof(*h));
}

void fb_histogram_record(struct fb_histogram *h, int64_t value) {
  uint64_t v = value < 0 ? 0 : (uint64_t)value;

  if (h->count == 0 || v < h->min)
    h->min = v;
  if (h->count == 0 || v > h->max)
    h->max = v;
  h->count++;
  h->buckets[bucket_of(v)]++;
}

void fb_histogram_merge(struct fb_histogram *dst,
                        const struct fb_histogram *src) {
  if (src->count == 0)
    return;
  if (dst->count == 0 || src->min < dst->min)
    dst->min = src->min;
  if (dst->count == 0 || src->max > dst->max)
    dst->max = src->max;
  dst->count += src->count;
  for (size_t b = 0; b < FB_HIST_BUCKETS; b++)
    dst->buckets[b] += src->buckets[b];
}

uint64_t fb_histogram_percentile(const struct fb_histogram *h, double p) {
  uint64_t rank, seen = 0, v;
  double x;

  if (h->count == 0)
    return 0;
  if (!(p > 0))
    return h->min;
  if (p >= 100)
    return h->max;
  /* The tiny shrink keeps p = 99.9 of 1000 values at rank 999 although
   * 99.9 / 100 * 1000 is a hair above 999 in binary floating point.
   */
  x = p / 100.0 * (double)h->count;
  x = ceil(x - x * 1e-12);
  rank = x < 1 ? 1 : (uint64_t)x;
  if (rank > h->count)
    rank = h->count;
  for (size_t b = 0; b < FB_HIST_BUCKETS; b++) {
    seen += h->buckets[b];
    if (seen < rank)
      continue;
    v = bucket_mid(b);
    if (v < h->min)
      v = h->min;
    if (v > h->max)
      v = h->max;
    return v;
  }
  return h->max;
}
