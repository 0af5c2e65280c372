/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fetchbench/error.h"
#include "fetchbench/stats.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void near(double got, double want, double tol, const char *what) {
  if (!(fabs(got - want) <= tol))
    fail_msg("%s: %.17g, want %.17g", what, got, want);
}

/* The ranks of the median's 95 % interval, [x(k), x(n+1-k)], with k the
 * largest rank such that P(B <= k - 1) <= 0.025 for B ~ Binomial(n, 1/2)
 * (Conover, Practical Nonparametric Statistics, 3rd ed., sec. 3.2;
 * Hollander & Wolfe, Nonparametric Statistical Methods, 2nd ed., sec. 3.6).
 * Each coverage was computed by hand as an exact fraction, e.g. n = 9:
 * P(B <= 1) = (1 + 9) / 512, coverage 1 - 20/512 = 123/128; n = 20:
 * P(B <= 5) = (1 + 20 + 190 + 1140 + 4845 + 15504) / 2^20 = 21700 / 2^20,
 * coverage 125647/131072. The ranks agree with the usual tables of
 * confidence limits for the median: n = 20 the 6th and 15th values, n = 30
 * the 10th and 21st.
 */
static void median_ranks(void **state) {
  static const struct {
    size_t n, k;
    double coverage;
  } want[] = {
      {6, 1, 31.0 / 32},
      {7, 1, 63.0 / 64},
      {8, 1, 127.0 / 128},
      {9, 2, 123.0 / 128},
      {10, 2, 501.0 / 512},
      {11, 2, 253.0 / 256},
      {12, 3, 1969.0 / 2048},
      {20, 6, 125647.0 / 131072},
      {30, 10, 513906825.0 / 536870912},
  };
  double cov;

  (void)state;
  /* Five values reach 1 - 2/32 = 93.75 % at best: no 95 % interval. */
  for (size_t n = 0; n < 6; n++) {
    assert_int_equal(fb_stats_median_rank(n, &cov), 0);
    assert_true(isnan(cov));
  }
  for (size_t i = 0; i < LEN(want); i++) {
    assert_int_equal(fb_stats_median_rank(want[i].n, &cov), want[i].k);
    near(cov, want[i].coverage, 1e-12, "coverage");
    assert_true(cov >= 0.95);
  }
  /* Large n: the interval narrows towards the normal one, and the
   * coverage stays at or above 95 % (and close to it).
   */
  assert_int_equal(fb_stats_median_rank(1000, &cov), 469);
  assert_true(cov >= 0.95 && cov < 0.96);
  assert_true(fb_stats_median_rank(5000, &cov) > 0);
  assert_true(cov >= 0.95);
}

static void stat_interval(void **state) {
  const double six[] = {5, 1, 4, NAN, 2, 3, 6};
  const double nine[] = {9, 3, 7, 1, 5, 2, 8, 4, 6};
  const double five[] = {5, 1, 4, 2, 3};
  struct fb_stat st;

  (void)state;
  fb_stat_compute(&st, six, LEN(six));
  assert_int_equal(st.n, 6);
  near(st.median, 3.5, 0, "median");
  near(st.lo, 1, 0, "lo");
  near(st.hi, 6, 0, "hi");
  near(fb_stat_reach(&st), 2.5, 0, "reach");
  fb_stat_compute(&st, nine, LEN(nine));
  near(st.median, 5, 0, "median");
  near(st.lo, 2, 0, "lo (2nd of 9)");
  near(st.hi, 8, 0, "hi (8th of 9)");
  near(st.coverage, 123.0 / 128, 1e-12, "coverage");
  fb_stat_compute(&st, five, LEN(five));
  near(st.median, 3, 0, "median");
  assert_true(isnan(st.lo) && isnan(st.hi) && isnan(fb_stat_reach(&st)));
  fb_stat_compute(&st, five, 0);
  assert_int_equal(st.n, 0);
  assert_true(isnan(st.median) && isnan(st.min));
}

/* scipy.stats.mannwhitneyu's documented example (the docstring's
 * "Examples", after Shier 2004): ages at diagnosis, males against females.
 * U1 = 17; method="exact" gives p = 0.1111111111111111 (14/126: 7 of the
 * C(9, 4) = 126 arrangements have U >= 17); method="asymptotic" (with the
 * continuity correction) 0.11134688653314041.
 */
static void mwu_scipy_example(void **state) {
  const double males[] = {19, 22, 16, 29, 24};
  const double females[] = {20, 11, 17, 12};
  struct fb_mwu t;

  (void)state;
  assert_int_equal(fb_stats_mwu(&t, males, 5, females, 4, FB_MWU_AUTO), 0);
  assert_true(t.exact);
  near(t.u, 17, 0, "U");
  near(t.p, 0.1111111111111111, 1e-15, "exact p");
  /* The most extreme arrangement: 1 of 126, twice. */
  near(t.p_min, 2.0 / 126, 1e-15, "p_min");
  assert_false(fb_stats_mwu_differ(&t));
  assert_false(fb_stats_mwu_cannot_tell(&t));
  assert_int_equal(fb_stats_mwu(&t, males, 5, females, 4, FB_MWU_NORMAL), 0);
  assert_false(t.exact);
  near(t.u, 17, 0, "U");
  near(t.p, 0.11134688653314041, 1e-12, "asymptotic p");
  /* Swapped: U of the first sample is 3, the p-value the same. */
  assert_int_equal(fb_stats_mwu(&t, females, 4, males, 5, FB_MWU_AUTO), 0);
  near(t.u, 3, 0, "U swapped");
  near(t.p, 0.1111111111111111, 1e-15, "exact p swapped");
}

/* Exact small cases, by hand. 3 against 3 wholly apart: U = 0, and only 1
 * of the C(6, 3) = 20 arrangements is as extreme on each side, so p = 0.1,
 * which is also the smallest p 3 against 3 can give: the test can never
 * reject at 5 %. 4 against 4: p = 2/70, below 5 %.
 */
static void mwu_small(void **state) {
  const double a3[] = {1, 2, 3}, b3[] = {4, 5, 6};
  const double a4[] = {1.0, 2.5, 3.0, 4.0}, b4[] = {5.0, 6.0, 7.5, 8.0};
  const double same[] = {5, 5, 5};
  struct fb_mwu t;

  (void)state;
  assert_int_equal(fb_stats_mwu(&t, a3, 3, b3, 3, FB_MWU_AUTO), 0);
  near(t.u, 0, 0, "U");
  near(t.p, 0.1, 1e-15, "p");
  near(t.p_min, 0.1, 1e-15, "p_min");
  assert_true(fb_stats_mwu_cannot_tell(&t));
  assert_false(fb_stats_mwu_differ(&t));
  assert_int_equal(fb_stats_mwu(&t, b4, 4, a4, 4, FB_MWU_AUTO), 0);
  near(t.u, 16, 0, "U");
  near(t.p, 2.0 / 70, 1e-15, "p");
  assert_true(fb_stats_mwu_differ(&t));
  /* Every value equal: nothing to tell apart, p = 1. */
  assert_int_equal(fb_stats_mwu(&t, same, 3, same, 3, FB_MWU_AUTO), 0);
  near(t.p, 1, 0, "p of equal samples");
  assert_false(fb_stats_mwu_differ(&t));
  assert_int_equal(fb_stats_mwu(&t, same, 0, same, 3, FB_MWU_AUTO), FB_ERANGE);
}

/* Ties, exactly, by hand: x = {1, 1, 2}, y = {2, 3, 3}. Mid-ranks 1.5, 1.5
 * (the ones), 3.5, 3.5 (the twos), 5.5, 5.5 (the threes); x's rank sum is
 * 6.5, so U = 6.5 - 3 * 4 / 2 = 0.5. Of the C(6, 3) = 20 ways to pick three
 * of those mid-ranks, 2 sum to 6.5 or less ({1.5, 1.5, 3.5}, either 3.5)
 * and none to less, so P(R <= 6.5) = 1/10 and the two-sided p = 0.2 (the
 * exact distribution without ties would say otherwise). The normal
 * approximation with the tie-corrected variance: ties sum(t^3 - t) = 18,
 * var = 9/12 * (7 - 18/30) = 4.8, z = (4.5 - 0.5 - 0.5) / sqrt(4.8).
 */
static void mwu_ties(void **state) {
  const double x[] = {1, 1, 2}, y[] = {2, 3, 3};
  struct fb_mwu t;

  (void)state;
  assert_int_equal(fb_stats_mwu(&t, x, 3, y, 3, FB_MWU_EXACT), 0);
  near(t.u, 0.5, 0, "U");
  near(t.p, 0.2, 1e-15, "p");
  assert_int_equal(fb_stats_mwu(&t, x, 3, y, 3, FB_MWU_NORMAL), 0);
  near(t.u, 0.5, 0, "U");
  near(t.p, erfc(3.5 / sqrt(4.8) / sqrt(2)), 1e-15, "normal p with ties");
}

/* Above FB_STATS_EXACT_MAX values the normal approximation takes over; at
 * 25 against 25 it agrees with the exact distribution to within 0.002.
 */
static void mwu_switch(void **state) {
  double x[25], y[25];
  struct fb_mwu e, a;

  (void)state;
  for (int i = 0; i < 25; i++) {
    x[i] = 100 + (i * 37 % 25);
    y[i] = 106.5 + (i * 11 % 25);
  }
  assert_int_equal(fb_stats_mwu(&a, x, 20, y, 20, FB_MWU_AUTO), 0);
  assert_true(a.exact);
  assert_int_equal(fb_stats_mwu(&a, x, 25, y, 25, FB_MWU_AUTO), 0);
  assert_false(a.exact);
  assert_int_equal(fb_stats_mwu(&e, x, 25, y, 25, FB_MWU_EXACT), 0);
  assert_true(e.exact);
  near(a.u, e.u, 0, "U");
  near(a.p, e.p, 0.002, "normal vs exact p");
  assert_true(a.p < 0.05 && e.p < 0.05);
}

/* The Moses interval of the ratio, by hand. 5 against 5: the U statistic's
 * null distribution has P(U <= 2) = 4/252 <= 0.025 < P(U <= 3) = 7/252, so
 * k = 3 and the interval runs from the 3rd to the 23rd of the 25 pairwise
 * ratios, coverage 1 - 8/252 (Hollander & Wolfe sec. 4.3, whose table of
 * critical values gives the same). With y all 5 and x = 10..14, the
 * ratios are 2.0, 2.2, 2.4, 2.6, 2.8 five times each: 3rd = 2.0, 23rd =
 * 2.8, and the median (13th) 2.4.
 */
static void ratio_exact(void **state) {
  const double x[] = {14, 10, 12, 11, 13}, y[] = {5, 5, 5, 5, 5};
  const double a3[] = {2, 3, 4}, b3[] = {1, 1, 1};
  const double bad[] = {1, 0};
  struct fb_ratio r;

  (void)state;
  assert_int_equal(fb_stats_ratio(&r, x, 5, y, 5), 0);
  near(r.est, 2.4, 1e-15, "estimate");
  near(r.lo, 2.0, 1e-15, "lo");
  near(r.hi, 2.8, 1e-15, "hi");
  near(r.coverage, 1 - 8.0 / 252, 1e-12, "coverage");
  /* 3 against 3: P(U <= 0) = 1/20 > 0.025, no interval; the estimate is
   * the median of 9 ratios, each x over 1.
   */
  assert_int_equal(fb_stats_ratio(&r, a3, 3, b3, 3), 0);
  near(r.est, 3, 0, "estimate");
  assert_true(isnan(r.lo) && isnan(r.hi) && isnan(r.coverage));
  /* One run each: the ratio of the two values. */
  assert_int_equal(fb_stats_ratio(&r, a3, 1, b3 + 1, 1), 0);
  near(r.est, 2, 0, "single ratio");
  /* An even count of ratios: the geometric mean of the middle two. */
  assert_int_equal(fb_stats_ratio(&r, a3, 2, b3, 1), 0);
  near(r.est, sqrt(6), 1e-15, "even count");
  assert_int_equal(fb_stats_ratio(&r, bad, 2, b3, 3), FB_ERANGE);
  assert_int_equal(fb_stats_ratio(&r, a3, 3, bad, 0), FB_ERANGE);
}

/* 25 against 25 (50 values, the normal rule): k = floor(mn/2 + 1/2 -
 * 1.96 sqrt(mn (N + 1) / 12)) = floor(313 - 1.959964 * 51.5388) = 211. With
 * y all 1 and x = 1..25, the sorted ratios are each of 1..25 25 times:
 * the 211th is 9 and the 415th (625 + 1 - 211) is 17.
 */
static void ratio_normal(void **state) {
  double x[25], y[25];
  struct fb_ratio r;

  (void)state;
  for (int i = 0; i < 25; i++) {
    x[i] = i + 1;
    y[i] = 1;
  }
  assert_int_equal(fb_stats_ratio(&r, x, 25, y, 25), 0);
  near(r.est, 13, 0, "estimate");
  near(r.lo, 9, 0, "lo");
  near(r.hi, 17, 0, "hi");
  assert_true(r.coverage > 0.95 && r.coverage < 0.96);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(median_ranks),      cmocka_unit_test(stat_interval),
      cmocka_unit_test(mwu_scipy_example), cmocka_unit_test(mwu_small),
      cmocka_unit_test(mwu_ties),          cmocka_unit_test(mwu_switch),
      cmocka_unit_test(ratio_exact),       cmocka_unit_test(ratio_normal),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
