/* SPDX-License-Identifier: MIT */
#ifndef FB_CORE_COMPARE_INT_H
#define FB_CORE_COMPARE_INT_H

#include <stddef.h>

#include "fetchbench/compare.h"

/* What the writers of a comparison share, each written once so that the
 * text and the HTML report say the same things in the same words: the
 * table's columns and cells (compare_table.c), the line about a cell's
 * failures (compare_table.c) and the verdict's sentences (verdict_text.c).
 */

/* The table's columns, in order. */
enum fb__table_col {
  FB__COL_ENGINE,
  FB__COL_WORKERS,
  FB__COL_RATE, /* open-loop sweeps only */
  FB__COL_RUNS,
  FB__COL_WALL,
  FB__COL_CPU_PER_REQ,
  FB__COL_RSS,
  FB__COL_P50,
  FB__COL_P99,
  FB__COL_P99C, /* open-loop sweeps only */
  FB__COL_REQ_PER_S,
  FB__COL_ERRORS,
  FB__COL_EFF,
  FB__TABLE_COLS
};

#define FB__TABLE_CELL 48

/* The column heads, units included ("wall s", "CPU/req ms"). */
extern const char *const fb__table_heads[FB__TABLE_COLS];

/* Whether column col is shown for cmp: "eff" only when the origin's delay
 * is known, "rate/s" and "p99 corr ms" only in an open-loop sweep.
 */
int fb__table_shown(const struct fb_compare *cmp, int col);

/* One row's cells as text: medians, each followed by " ±" and the reach
 * of its 95 % interval (fb_stat_reach) when the cell has one (6 runs or
 * more), in the median's decimals; "-" for an unknown value; in the errors
 * column "0", "3/20 !" (errors over requests, marked), "FAILED" or "not
 * run". The "±" is UTF-8 (two bytes, one column).
 */
void fb__table_row(char cells[FB__TABLE_COLS][FB__TABLE_CELL],
                   const struct fb_compare_cell *c);

/* What went wrong in cell c, as one sentence without a leading mark:
 * "threads with 4 workers: 3 of 20 requests failed: recv 2, timeout 1; 1 of
 * 2 runs failed (killed by signal 9)". Returns 0 and writes "" when the cell
 * has neither errors nor failed runs, else 1. Truncated to len.
 */
int fb__table_problems(char *buf, size_t len, const struct fb_compare *cmp,
                       const struct fb_compare_cell *c);

/* Said under the table. */
#define FB__TABLE_RSS_NOTE                                                     \
  "RSS: peak of the client plus the peak of every child process it ran "       \
  "(shared pages count in each)."
#define FB__TABLE_CI_NOTE                                                      \
  "±: the median's 95 % interval lies within median ± this (order "          \
  "statistics, distribution-free; none below 6 runs)."

/* The parts of a verdict: its title, a point, and a point's continuation
 * (the runner-up after the fastest cell).
 */
enum fb__verdict_part {
  FB__VERDICT_TITLE,
  FB__VERDICT_POINT,
  FB__VERDICT_MORE,
};

/* Builds the verdict of cmp (fb_compare_verdict) in sentences and hands
 * each, without a leading mark or a newline, to emit(ctx, part, text) in
 * order: the title first. text is only valid during the call. Returns 0,
 * or -ENOMEM when a test or interval could not be computed (the sentences
 * then say so, and leave it out).
 */
int fb__verdict_text(const struct fb_compare *cmp,
                     void (*emit)(void *ctx, enum fb__verdict_part part,
                                  const char *text),
                     void *ctx);

#endif /* FB_CORE_COMPARE_INT_H */
