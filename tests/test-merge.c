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

#include "fetchbench/clock.h"
#include "fetchbench/error.h"
#include "fetchbench/merge.h"
#include "fetchbench/report.h"
#include "fetchbench/results.h"

/* Shards written as `run --format json` writes them, read back as merge
 * reads them, and merged: the merged percentiles must be those of one
 * histogram fed every sample of every shard (the JSON buckets are
 * lossless), and the checks must name a missing or doubled index.
 */

#define SHARDS 4
#define URLS 103 /* not a multiple of SHARDS: the shares differ */

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}

struct fixture {
  struct fb_results_run runs[SHARDS];
  struct fb_summary_hists *one; /* every sample of every shard */
};

static const char digest[] = "0123456789abcdef";

/* Shard i of URLS: its share of samples, log-spread from 1 ms to ~1 s,
 * written and read back.
 */
static void make_shard(struct fixture *fx, unsigned i) {
  struct fb_summary s;
  struct fb_summary_hists *h = calloc(1, sizeof(*h));
  struct fb_report_context ctx = {
      .workload = "test",
      .connection = "reuse",
      .scheme = "http",
      .urls_digest = digest,
      .workload_urls = URLS,
      .delay_ms = 10,
      .shard = i,
      .shards = SHARDS,
  };
  size_t share = (URLS - 1 - i) / SHARDS + 1, line = 0;
  char err[512];
  FILE *f = tmpfile();

  assert_non_null(h);
  assert_non_null(f);
  memset(&s, 0, sizeof(s));
  s.engine = "threads";
  s.workers = s.workers_ran = 2;
  s.urls = s.ok = s.done = share;
  s.outcomes[FB_OUTCOME_OK] = share;
  s.wall_s = 1;
  s.cpu_user_s = 0.25;
  s.start_real_ns = 1700000000LL * FB_NS_PER_S + i * 1000;
  s.end_real_ns = s.start_real_ns + FB_NS_PER_S + i * 7;
  s.bytes = 1000 * share;
  for (size_t k = 0; k < share; k++) {
    int64_t v =
        (int64_t)exp(log(1e6) + (double)(rng() % 1000) / 1000.0 * log(1000.0));
    fb_histogram_record(&h->latency, v);
    fb_histogram_record(&h->ttfb, v / 2);
    fb_histogram_record(&fx->one->latency, v);
    fb_histogram_record(&fx->one->ttfb, v / 2);
  }
  fb_summary_percentiles(&s, h);
  s.hists = h;
  assert_int_equal(fb_report_json_ctx(f, &s, &ctx), 0);
  rewind(f);
  if (fb_results_read_run(&fx->runs[i], f, "shard", &line, err, sizeof(err)) !=
      1)
    fail_msg("reading shard %u back: %s", i, err);
  fclose(f);
  free(h);
}

static int setup(void **state) {
  struct fixture *fx = calloc(1, sizeof(*fx));

  assert_non_null(fx);
  fx->one = calloc(1, sizeof(*fx->one));
  assert_non_null(fx->one);
  for (unsigned i = 0; i < SHARDS; i++)
    make_shard(fx, i);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  struct fixture *fx = *state;

  for (unsigned i = 0; i < SHARDS; i++)
    fb_results_run_cleanup(&fx->runs[i]);
  free(fx->one);
  free(fx);
  return 0;
}

/* Merges the shards listed in which (n of them); returns fb_merge's code. */
static int merge(struct fixture *fx, const unsigned *which, size_t n,
                 struct fb_summary *out, struct fb_summary_hists *h, char *err,
                 size_t errlen) {
  struct fb_merge_shard parts[SHARDS + 2];
  struct fb_report_context ctx;

  for (size_t k = 0; k < n; k++) {
    parts[k].s = &fx->runs[which[k]].s;
    parts[k].ctx = &fx->runs[which[k]].ctx;
    parts[k].where = fx->runs[which[k]].where;
  }
  return fb_merge(out, h, &ctx, parts, n, err, errlen);
}

static void merged_is_one_histogram(void **state) {
  static const unsigned all[] = {2, 0, 3, 1};
  struct fixture *fx = *state;
  struct fb_summary out;
  struct fb_summary_hists *h = malloc(sizeof(*h));
  char err[512];

  assert_non_null(h);
  assert_int_equal(merge(fx, all, SHARDS, &out, h, err, sizeof(err)), 0);
  assert_int_equal(out.urls, URLS);
  assert_int_equal(out.ok, URLS);
  assert_int_equal(out.bytes, 1000 * URLS);
  assert_int_equal(out.workers, 2 * SHARDS);
  assert_true(fabs(out.cpu_user_s - 0.25 * SHARDS) < 1e-12);
  /* Earliest start (shard 0) to latest end (shard 3). */
  assert_true(fabs(out.wall_s - (1 + (3 * 1000 + 3 * 7) / 1e9)) < 1e-12);
  assert_int_equal(h->latency.count, URLS);
  assert_memory_equal(h->latency.buckets, fx->one->latency.buckets,
                      sizeof(h->latency.buckets));
  assert_int_equal(h->latency.min, fx->one->latency.min);
  assert_int_equal(h->latency.max, fx->one->latency.max);
  assert_true(out.latency.p50 ==
              (double)fb_histogram_percentile(&fx->one->latency, 50) / 1e6);
  assert_true(out.latency.p99 ==
              (double)fb_histogram_percentile(&fx->one->latency, 99) / 1e6);
  assert_true(out.ttfb.p99 ==
              (double)fb_histogram_percentile(&fx->one->ttfb, 99) / 1e6);
  /* The ideal of the merged run: ceil(103 / 8) rounds of 10 ms. */
  assert_true(fabs(out.ideal_s - 13 * 0.010) < 1e-12);
  free(h);
}

static void missing_and_doubled(void **state) {
  static const unsigned three[] = {0, 1, 2};
  static const unsigned twice[] = {0, 1, 2, 1, 3};
  struct fixture *fx = *state;
  struct fb_summary out;
  struct fb_summary_hists *h = malloc(sizeof(*h));
  char err[512];

  assert_non_null(h);
  assert_int_equal(merge(fx, three, 3, &out, h, err, sizeof(err)), FB_ESHARDS);
  assert_non_null(strstr(err, "URL index 3 is in no shard (25 of the 103 "
                              "URLs are missing): shard 3/4"));
  assert_int_equal(merge(fx, twice, 5, &out, h, err, sizeof(err)), FB_ESHARDS);
  assert_non_null(strstr(err, "URL index 1 is in two shards: shard:1 "
                              "(shard 1/4) and shard:1 (shard 1/4)"));
  /* Another engine: not a shard of this run. */
  fx->runs[3].s.engine = "async";
  assert_int_equal(
      merge(fx, (const unsigned[]){0, 1, 2, 3}, 4, &out, h, err, sizeof(err)),
      FB_ERESULTS);
  assert_non_null(strstr(err, "engine async, but threads"));
  fx->runs[3].s.engine = "threads";
  free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(merged_is_one_histogram),
      cmocka_unit_test(missing_and_doubled),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
