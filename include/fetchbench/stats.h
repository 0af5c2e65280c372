/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_STATS_H
#define FETCHBENCH_STATS_H

#include <stddef.h>

/* Statistics of benchmark repeats: a handful of runs per cell, whose
 * distribution nobody knows, so every method here is distribution-free and
 * deterministic (no resampling, no seed).
 *
 * - A median's 95 % interval is the order-statistic interval
 *   [x(k), x(n+1-k)] of the sorted values, k the largest rank with
 *   P(B <= k - 1) <= 2.5 % for B ~ Binomial(n, 1/2) (Conover, Practical
 *   Nonparametric Statistics, 3rd ed., sec. 3.2; Hollander & Wolfe,
 *   Nonparametric Statistical Methods, sec. 3.6). Its coverage,
 *   1 - 2 P(B <= k - 1), is exact for any continuous distribution and at
 *   least 95 %. Below 6 values no two-sided 95 % interval exists (5 values
 *   reach 93.75 % at best), and none is given.
 * - Two samples are compared by the two-sided Mann-Whitney U test. Up to
 *   FB_STATS_EXACT_MAX values in all, its p-value comes from the exact
 *   permutation distribution of the rank sum, ties included (mid-ranks);
 *   above, from the normal approximation with the tie-corrected variance and
 *   a continuity correction of 1/2 (scipy.stats.mannwhitneyu's
 *   "asymptotic" method).
 * - A ratio of two samples x over y is the Hodges-Lehmann estimate on the
 *   log scale, the median of the nx * ny ratios x_i / y_j (the geometric
 *   mean of the middle two when their count is even), with the
 *   distribution-free interval that goes with the U test (Moses; Hollander &
 *   Wolfe sec. 4.3): the k-th smallest and k-th largest of those ratios, k
 *   from the U statistic's null distribution without ties (exact up to
 *   FB_STATS_EXACT_MAX values, normal above). It assumes the two samples
 *   differ by a factor. Without ties, its interval excludes 1 exactly when
 *   the exact U test rejects, and exists exactly when the test could ever
 *   reject.
 */

#define FB_STATS_LEVEL 0.95 /* of every interval */
#define FB_STATS_ALPHA 0.05 /* of every test: "differ" when p <= alpha */
#define FB_STATS_EXACT_MAX 40
#define FB_STATS_MEDIAN_MIN 6 /* fewest values with a median interval */

/* Median, extremes and the median's 95 % interval of a set of values. */
struct fb_stat {
  double median;   /* the middle value, or the mean of the middle two */
  double min;      /* NaN when n is 0 */
  double max;      /* NaN when n is 0 */
  double lo, hi;   /* the median's 95 % interval; NaN when n < 6 */
  double coverage; /* the interval's exact coverage, NaN when none */
  unsigned n;      /* the values behind it: NaN values are left out */
};

/* Reduces v[0..n) into *st, leaving NaN values (unknown) out. v is not
 * modified. Out of memory (more than 64 values need a copy), only n, min
 * and max are set.
 */
void fb_stat_compute(struct fb_stat *st, const double *v, size_t n);

/* The rank k of the median's interval [x(k), x(n+1-k)] for n sorted
 * values, 1-based, and in *coverage (when not NULL) its coverage. Returns 0
 * (coverage NaN) when n < FB_STATS_MEDIAN_MIN.
 */
size_t fb_stats_median_rank(size_t n, double *coverage);

/* The larger of the distances from the median to its interval's ends: the
 * interval lies within median +- this. NaN when st has no interval.
 */
double fb_stat_reach(const struct fb_stat *st);

enum fb_mwu_method {
  FB_MWU_AUTO,  /* exact up to FB_STATS_EXACT_MAX values in all, else normal */
  FB_MWU_EXACT, /* exact at any size (time and memory grow as N^3) */
  FB_MWU_NORMAL /* normal approximation at any size */
};

/* A two-sided Mann-Whitney U test of x against y. */
struct fb_mwu {
  double u;      /* U of x: pairs with x_i > y_j, each tie counting 1/2 */
  double p;      /* two-sided p-value, at most 1 */
  double p_min;  /* the smallest p-value these sizes and ties could give:
                 * above FB_STATS_ALPHA the test cannot reject, whatever
                 * the values */
  int exact;     /* 1: from the exact distribution; 0: normal */
  size_t nx, ny; /* the samples' sizes: U ranges over 0..nx * ny */
};

/* Tests x[0..nx) against y[0..ny) (no NaN). Returns 0; FB_ERANGE when a
 * sample is empty; -ENOMEM.
 */
int fb_stats_mwu(struct fb_mwu *t, const double *x, size_t nx, const double *y,
                 size_t ny, enum fb_mwu_method method);

/* Non-zero when the test could reject at FB_STATS_ALPHA and did. */
int fb_stats_mwu_differ(const struct fb_mwu *t);

/* Non-zero when the sizes (and ties) leave the test unable to reject. */
int fb_stats_mwu_cannot_tell(const struct fb_mwu *t);

/* How much larger x is than y, as a factor. */
struct fb_ratio {
  double est;      /* Hodges-Lehmann estimate of x / y */
  double lo, hi;   /* its 95 % interval; NaN when the sizes allow none */
  double coverage; /* the interval's coverage (normal approximation above
                    * FB_STATS_EXACT_MAX values), NaN when none */
};

/* The ratio of x[0..nx) to y[0..ny), every value > 0 and finite. Returns 0;
 * FB_ERANGE when a sample is empty or holds a value <= 0; -ENOMEM.
 */
int fb_stats_ratio(struct fb_ratio *r, const double *x, size_t nx,
                   const double *y, size_t ny);

#endif /* FETCHBENCH_STATS_H */
