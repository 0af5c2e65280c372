/* SPDX-License-Identifier: MIT */
#ifndef FB_FUZZ_ORIGIN_LOOP_H
#define FB_FUZZ_ORIGIN_LOOP_H

/* What the origin's fuzz targets share: turning an in-process origin's
 * loop by hand, with its timers fast-forwarded.
 */

struct fb_origin;

/* Makes every connection's pending timer due now: a delay as if elapsed, a
 * paced body a second further on, a timeout as if reached. Returns whether
 * any was pending.
 */
int fz_origin_fast_forward(struct fb_origin *o);

/* Closes every connection, turns the loop until they are freed, and checks
 * they are.
 */
void fz_origin_close_all(struct fb_origin *o);

#endif /* FB_FUZZ_ORIGIN_LOOP_H */
