/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_HISTOGRAM_H
#define FETCHBENCH_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

/* A log-bucketed histogram of non-negative values (nanoseconds, in practice)
 * from 0 to 2^FB_HIST_MAX_EXP - 1. Each power of two is cut into
 * FB_HIST_SUB linear buckets, so a reported value is within 1/(2*FB_HIST_SUB)
 * (0.4 %) of every value in its bucket; values at or beyond the top land in
 * the last bucket and max stays exact. Recording is O(1) and allocation-free.
 */
#define FB_HIST_SUB_BITS 7
#define FB_HIST_SUB (1u << FB_HIST_SUB_BITS)
#define FB_HIST_MAX_EXP 44 /* 2^44 ns: about 4.9 hours */
#define FB_HIST_BUCKETS ((FB_HIST_MAX_EXP - FB_HIST_SUB_BITS + 1) * FB_HIST_SUB)

struct fb_histogram {
  uint64_t count;
  uint64_t min;
  uint64_t max;
  uint64_t buckets[FB_HIST_BUCKETS];
};

/* Empties h. */
void fb_histogram_init(struct fb_histogram *h);

/* Records one value; negative values count as 0. */
void fb_histogram_record(struct fb_histogram *h, int64_t value);

/* Adds every value of src to dst. */
void fb_histogram_merge(struct fb_histogram *dst,
                        const struct fb_histogram *src);

/* The value at percentile p (0 < p <= 100) by the nearest-rank rule: the
 * midpoint of the bucket holding the ceil(p/100 * count)-th smallest value,
 * clamped to [min, max]. Returns 0 for an empty histogram.
 */
uint64_t fb_histogram_percentile(const struct fb_histogram *h, double p);

/* Bucket b's smallest value (b < FB_HIST_BUCKETS): what the JSON reports
 * name a bucket by, so that they stay readable without this layout.
 */
uint64_t fb_histogram_bucket_low(size_t b);

/* Adds count values to the bucket whose smallest value is low, as read back
 * from a report; min and max are the caller's to set. Returns 0, or
 * FB_ERANGE when low is no bucket's smallest value or the count overflows.
 */
int fb_histogram_put(struct fb_histogram *h, uint64_t low, uint64_t count);

#endif /* FETCHBENCH_HISTOGRAM_H */
