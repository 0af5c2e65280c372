/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_DIFF_H
#define FETCHBENCH_DIFF_H

#include <stddef.h>
#include <stdio.h>

#include "compare.h"

/* Two sweeps of the same workload set side by side (fetchbench diff): each
 * cell of the new one against the cell of the old one with the same engine
 * and workers, on the figures a change of code shows in, each change a ratio
 * with its 95 % interval and a Mann-Whitney U test between the two sweeps'
 * runs (stats.h).
 */

/* The figures compared, in their order: wall time, CPU per request, peak
 * RSS (process and children), p99 latency. For each, lower is better.
 */
#define FB_DIFF_FIGURES 4
extern const enum fb_figure fb_diff_figures[FB_DIFF_FIGURES];

/* What became of one figure of one cell. */
enum fb_diff_mark {
  FB_DIFF_NONE,        /* no test: a cell without runs, say */
  FB_DIFF_SAME,        /* no significant change */
  FB_DIFF_CANNOT_TELL, /* too few runs for the test ever to reject */
  FB_DIFF_BETTER,      /* significantly lower */
  FB_DIFF_WORSE,       /* significantly higher, within the threshold */
  FB_DIFF_REGRESSED    /* significantly higher by more than the threshold */
};

/* "same", "cannot tell", "better", "worse", "REGRESSED" or "-". */
const char *fb_diff_mark_name(enum fb_diff_mark m);

struct fb_diff_row {
  int old_i, new_i; /* the cell in each sweep; -1: only in the other */
  struct fb_verdict_pair fig[FB_DIFF_FIGURES]; /* new's runs over old's */
  enum fb_diff_mark mark[FB_DIFF_FIGURES];
};

/* One workload field that differs between the sweeps. */
struct fb_diff_field {
  const char *name; /* the JSON field: "connection", "urls_digest", ... */
  char old_value[128];
  char new_value[128];
};

#define FB_DIFF_FIELDS 12

struct fb_diff {
  struct fb_diff_row *rows; /* old's cells in order, then new's own */
  size_t nrows;
  double threshold; /* a regression is a rise above 1 + threshold */
  size_t regressed; /* cells with a figure marked FB_DIFF_REGRESSED */
  /* What was fetched differs: the sweeps cannot be compared. */
  struct fb_diff_field workload[FB_DIFF_FIELDS];
  size_t nworkload;
  /* The conditions differ (origin delay, jitter, machine, pinning): the
   * comparison stands, and the report says what changed.
   */
  struct fb_diff_field conditions[FB_DIFF_FIELDS];
  size_t nconditions;
};

/* Compares new against old with a regression threshold (0.05: 5 %). The
 * workload is what was fetched: the number of URLs and their digest (with
 * the embedded origin's address left out), the connection policy, the
 * corpus and the scheme; when any differs, only d->workload is filled. The
 * conditions are the origin's delay and jitter, the machine and the
 * pinning. Returns 0 or -ENOMEM. Clean up with fb_diff_cleanup.
 */
int fb_diff_compute(struct fb_diff *d, const struct fb_compare *old_cmp,
                    const struct fb_compare *new_cmp, double threshold);

/* Frees the rows. Safe on a zeroed or cleaned-up d. */
void fb_diff_cleanup(struct fb_diff *d);

/* The diff for people: what differs in the conditions, then per cell each
 * figure's old and new median, the change with its 95 % interval, the
 * p-value and the mark; then a last line counting the regressions. Names
 * are the files' names for the header. Returns 0 or -errno.
 */
int fb_report_diff_text(FILE *out, const struct fb_diff *d,
                        const struct fb_compare *old_cmp,
                        const struct fb_compare *new_cmp, const char *old_name,
                        const char *new_name);

#endif /* FETCHBENCH_DIFF_H */
