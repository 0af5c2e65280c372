/* SPDX-License-Identifier: MIT */
#ifndef FB_CORE_REPORT_INT_H
#define FB_CORE_REPORT_INT_H

#include <stddef.h>
#include <stdio.h>

/* Internal helpers shared by the report writers. */

/* An output stream with a sticky error: after the first failed write every
 * further write is skipped, and fb__out_end reports that first error.
 */
struct fb__out {
  FILE *f;
  int rc; /* 0 or the first -errno */
};

void fb__out_printf(struct fb__out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes v as a JSON number in the fewest digits that read back as v; null
 * when v is NaN or infinite.
 */
void fb__out_json_number(struct fb__out *o, double v);

/* Writes len bytes of s as a JSON string (fb_json_string). */
void fb__out_json_string(struct fb__out *o, const char *s, size_t len);

/* Flushes the stream and returns 0 or the first write error as -errno (-EIO
 * when errno tells nothing): ENOSPC on a full disk, EPIPE, ...
 */
int fb__out_end(struct fb__out *o);

/* Formats v into buf in the fewest significant digits (%g style) that read
 * back as v: 0.1, not 0.10000000000000001. Returns buf.
 */
char *fb__shortest_double(char *buf, size_t size, double v);

/* Formats v in the shortest text that reads back as v, in positional
 * notation where that is short (4200, not 4.2e+03; 0.0125, not 1.25e-02),
 * so that people and spreadsheets read the files as easily as parsers.
 * Returns buf.
 */
char *fb__number(char *buf, size_t size, double v);

/* Writes v as fb__number does, or null when v is NaN or infinite. */
void fb__out_number(struct fb__out *o, double v);

struct fb_histogram;
struct fb_summary_hists;

/* Writes a run's (or a cell's merged) histograms as one JSON object:
 * {"unit":"ns","sub_buckets":128,"latency":H,"ttfb":H,"tls":H}, each H
 * {"count","min","max","buckets":[[low,count],...]} listing the non-empty
 * buckets by their smallest value: lossless at the histogram's resolution,
 * so that percentiles can be recomputed after merging. null when h is NULL.
 */
void fb__out_hists(struct fb__out *o, const struct fb_summary_hists *h);
/* The length of the well-formed UTF-8 sequence at s[0, n), or 0 when s does
 * not start one; *bad then receives the length of the maximal ill-formed
 * subpart to replace by one U+FFFD (Unicode's recommended practice, which
 * Python's and browsers' decoders follow). n > 0.
 */
size_t fb__utf8_valid(const unsigned char *s, size_t n, size_t *bad);

/* A sentence built in a caller's buffer: appends never overrun it, and
 * what does not fit is cut (the buffer always holds a C string).
 */
struct fb__sb {
  char *buf;
  size_t size; /* > 0 */
  size_t len;
};

void fb__sb_printf(struct fb__sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* FB_CORE_REPORT_INT_H */
