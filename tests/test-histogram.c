/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fetchbench/histogram.h"

#define N 200000

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}

static double uniform01(void) {
  return (double)(rng() >> 11) / 9007199254740992.0;
}

static double normal(void) {
  double u = uniform01(), v = uniform01();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The exact nearest-rank percentile of sorted v[0, n). */
static int64_t exact(const int64_t *v, size_t n, double p) {
  double x = p / 100.0 * (double)n;
  size_t rank = (size_t)ceil(x - x * 1e-12);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return v[rank - 1];
}

static struct fb_histogram *new_hist(void) {
  struct fb_histogram *h = malloc(sizeof(*h));
  assert_non_null(h);
  fb_histogram_init(h);
  return h;
}

/* Records v[0, n) and checks p50/p90/p99/p99.9/max against the exact
 * values: within 1 % (and exactly equal below the linear range).
 */
static void check(const char *name, int64_t *v, size_t n) {
  static const double ps[] = {1, 10, 50, 90, 99, 99.9, 99.99, 100};
  struct fb_histogram *h = new_hist();

  for (size_t i = 0; i < n; i++)
    fb_histogram_record(h, v[i]);
  qsort(v, n, sizeof(*v), cmp_i64);
  assert_int_equal(h->count, n);
  assert_int_equal(h->min, (uint64_t)v[0]);
  assert_int_equal(h->max, (uint64_t)v[n - 1]);
  for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
    double want = (double)exact(v, n, ps[i]);
    double got = (double)fb_histogram_percentile(h, ps[i]);
    double err = want > 0 ? fabs(got - want) / want : fabs(got);
    if (err > 0.01 || (want < FB_HIST_SUB * 2 && got != want))
      fail_msg("%s: p%g = %.0f, exact %.0f (error %.3f %%)", name, ps[i], got,
               want, err * 100);
  }
  free(h);
}

static void test_uniform(void **state) {
  int64_t *v = malloc(N * sizeof(*v));

  (void)state;
  assert_non_null(v);
  /* 1 ms to 1 s, in ns. */
  for (size_t i = 0; i < N; i++)
    v[i] = 1000000 + (int64_t)(rng() % 999000000);
  check("uniform", v, N);
  /* Small values: the linear range. */
  for (size_t i = 0; i < N; i++)
    v[i] = (int64_t)(rng() % 300);
  check("uniform small", v, N);
  free(v);
}

static void test_lognormal(void **state) {
  int64_t *v = malloc(N * sizeof(*v));

  (void)state;
  assert_non_null(v);
  /* Latency-like: median ~70 ms, long right tail. */
  for (size_t i = 0; i < N; i++)
    v[i] = (int64_t)(70e6 * exp(0.8 * normal()));
  check("log-normal", v, N);
  free(v);
}

static void test_constant(void **state) {
  int64_t *v = malloc(N * sizeof(*v));
  struct fb_histogram *h = new_hist();

  (void)state;
  assert_non_null(v);
  for (size_t i = 0; i < N; i++)
    v[i] = 71234567;
  check("constant", v, N);
  /* min and max clamp the bucket's midpoint: a constant is exact. */
  fb_histogram_record(h, 71234567);
  assert_int_equal(fb_histogram_percentile(h, 50), 71234567);
  assert_int_equal(fb_histogram_percentile(h, 100), 71234567);
  free(h);
  free(v);
}

static void test_outliers(void **state) {
  int64_t *v = malloc(N * sizeof(*v));

  (void)state;
  assert_non_null(v);
  /* Mostly ~5 ms, 0.5 % stalls of seconds to minutes. */
  for (size_t i = 0; i < N; i++) {
    if (rng() % 200 == 0)
      v[i] = (int64_t)(1e9 + (double)(rng() % 180) * 1e9);
    else
      v[i] = 5000000 + (int64_t)(rng() % 100000);
  }
  check("outliers", v, N);
  free(v);
}

static void test_wide_range(void **state) {
  int64_t *v = malloc(N * sizeof(*v));

  (void)state;
  assert_non_null(v);
  /* Log-uniform from 1 ns to 10 minutes. */
  for (size_t i = 0; i < N; i++)
    v[i] = (int64_t)exp(uniform01() * log(600e9));
  check("ns to minutes", v, N);
  /* Few values: every rank matters. */
  for (size_t n = 1; n <= 20; n++) {
    for (size_t i = 0; i < n; i++)
      v[i] = (int64_t)(rng() % 1000000000);
    check("few", v, n);
  }
  free(v);
}

static void test_edges(void **state) {
  struct fb_histogram *h = new_hist();
  uint64_t top = (uint64_t)1 << FB_HIST_MAX_EXP;

  (void)state;
  /* Empty. */
  assert_int_equal(h->count, 0);
  assert_int_equal(fb_histogram_percentile(h, 50), 0);
  assert_int_equal(fb_histogram_percentile(h, 100), 0);
  /* Negative values count as 0. */
  fb_histogram_record(h, -5);
  assert_int_equal(h->count, 1);
  assert_int_equal(fb_histogram_percentile(h, 50), 0);
  /* At and beyond the top: the last bucket, max exact. */
  fb_histogram_record(h, (int64_t)top);
  fb_histogram_record(h, INT64_MAX);
  assert_int_equal(h->max, (uint64_t)INT64_MAX);
  assert_int_equal(fb_histogram_percentile(h, 100), (uint64_t)INT64_MAX);
  assert_int_equal(h->buckets[FB_HIST_BUCKETS - 1], 2);
  /* Just below the top is still within 1 %. */
  fb_histogram_init(h);
  fb_histogram_record(h, (int64_t)(top - 1));
  fb_histogram_record(h, 1);
  assert_int_equal(fb_histogram_percentile(h, 100), top - 1);
  assert_int_equal(fb_histogram_percentile(h, 50), 1);
  free(h);
}

static void test_merge(void **state) {
  struct fb_histogram *a = new_hist(), *b = new_hist(), *all = new_hist();
  struct fb_histogram *empty = new_hist();
  static const double ps[] = {50, 90, 99, 99.9, 100};

  (void)state;
  for (int i = 0; i < 50000; i++) {
    int64_t x = (int64_t)(rng() % 100000000), y = (int64_t)(rng() % 5000000);
    fb_histogram_record(a, x);
    fb_histogram_record(b, y);
    fb_histogram_record(all, x);
    fb_histogram_record(all, y);
  }
  fb_histogram_merge(a, empty);
  fb_histogram_merge(a, b);
  assert_int_equal(a->count, all->count);
  assert_int_equal(a->min, all->min);
  assert_int_equal(a->max, all->max);
  assert_memory_equal(a->buckets, all->buckets, sizeof(a->buckets));
  for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
    assert_int_equal(fb_histogram_percentile(a, ps[i]),
                     fb_histogram_percentile(all, ps[i]));
  /* Into an empty one: min and max come along. */
  fb_histogram_merge(empty, b);
  assert_int_equal(empty->min, b->min);
  assert_int_equal(empty->max, b->max);
  assert_int_equal(empty->count, b->count);
  free(a);
  free(b);
  free(all);
  free(empty);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uniform),    cmocka_unit_test(test_lognormal),
      cmocka_unit_test(test_constant),   cmocka_unit_test(test_outliers),
      cmocka_unit_test(test_wide_range), cmocka_unit_test(test_edges),
      cmocka_unit_test(test_merge),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
