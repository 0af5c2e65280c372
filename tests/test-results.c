/* SPDX-License-Identifier: MIT */
/* Saved comparisons read back (results_read.c) and the HTML writer: a sweep
 * written as JSON and read again is the same sweep, field for field, and
 * reports the same text and HTML; every malformed input is refused with its
 * line and field; HTML escapes whatever bytes it is given.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fetchbench/compare.h"
#include "fetchbench/error.h"
#include "fetchbench/results.h"

/* A sweep of three cells and three repeats: one clean, one with failed
 * requests, one with a run that crashed, figures that differ per run.
 */
static void make_sweep(struct fb_compare *cmp, const char *workload) {
  static const char *const engines[] = {"sequential", "threads", "threads"};
  static const unsigned workers[] = {1, 1, 4};

  assert_int_equal(fb_compare_init(cmp, 3, 3, 10), 0);
  cmp->ctx.workload = workload;
  cmp->ctx.machine = "test machine, 2 cores";
  cmp->ctx.origin = "http://127.0.0.1:8080";
  cmp->ctx.corpus = "synthetic";
  cmp->ctx.connection = "fresh";
  cmp->ctx.client_cpu = 0;
  cmp->ctx.origin_cpu = 1;
  cmp->ctx.jitter_ms = 2;
  for (size_t i = 0; i < 3; i++) {
    cmp->cells[i].engine = engines[i];
    cmp->cells[i].workers = workers[i];
    for (unsigned r = 0; r < 3; r++) {
      struct fb_summary s;

      if (i == 2 && r == 1) {
        fb_compare_fail(cmp, i, FB_EWORKERS, "killed by signal 9 (Killed)");
        continue;
      }
      memset(&s, 0, sizeof(s));
      s.urls = 10;
      s.wall_s = 0.1 / workers[i] + 0.001 * r + 0.0001 * (double)i;
      s.cpu_user_s = 0.002 + 0.0001 * r;
      s.cpu_sys_s = 0.001 / 3;
      s.child_user_s = i == 2 ? 0.0005 : 0;
      s.cpu_per_req_ms = (s.cpu_user_s + s.cpu_sys_s) * 100;
      s.max_rss_kib = 4000 + 100 * (long)i + r;
      s.rss_sum_kib = s.max_rss_kib + 7;
      s.latency.p50 = 10.1 + r;
      s.latency.p99 = 12.7 + r;
      s.ttfb.p50 = 10.05;
      s.req_per_s = s.urls / s.wall_s;
      s.efficiency = 0.9;
      if (i == 1 && r == 0) {
        s.errors = 2;
        s.outcomes[FB_OUTCOME_RECV] = 1;
        s.outcomes[FB_OUTCOME_TIMEOUT] = 1;
      }
      s.ok = s.urls - s.errors;
      s.outcomes[FB_OUTCOME_OK] = s.ok;
      assert_int_equal(fb_compare_add(cmp, i, &s, 0, NULL), 0);
      /* The first cell's runs bring histograms, merged over its runs. */
      if (i == 0) {
        struct fb_summary_hists *h = calloc(1, sizeof(*h));

        assert_non_null(h);
        for (int k = 0; k < 10; k++) {
          fb_histogram_record(&h->latency, 10000000 + 12345 * k * (r + 1));
          fb_histogram_record(&h->ttfb, 9000000 + 777 * k);
        }
        fb_histogram_record(&h->tls, 3);
        assert_int_equal(fb_compare_add_hists(cmp, i, h), 0);
        free(h);
      }
    }
  }
  fb_compare_aggregate(cmp);
  cmp->elapsed_s = 1.25;
}

/* What writer makes of cmp, as a malloc'ed string. */
static char *written(int (*writer)(FILE *, const struct fb_compare *),
                     const struct fb_compare *cmp) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  char *copy;

  assert_non_null(f);
  assert_int_equal(writer(f, cmp), 0);
  assert_int_equal(fclose(f), 0);
  /* A copy: GCC at -O3 takes open_memstream's buffer for the address of
   * the local buf and warns of a dangling pointer wherever it is used. */
  copy = strdup(buf);
  assert_non_null(copy);
  free(buf);
  return copy;
}

/* Reads text; returns the code, with the message in err. */
static int read_text(struct fb_results *res, const char *text, char *err,
                     size_t errlen) {
  FILE *f = fmemopen((void *)text, strlen(text), "r");
  int rc;

  assert_non_null(f);
  rc = fb_results_read(res, f, "saved.json", err, errlen);
  fclose(f);
  return rc;
}

static void assert_same_double(double a, double b, const char *what) {
  if (isnan(a) && isnan(b))
    return;
  if (a != b)
    fail_msg("%s: %.17g != %.17g", what, a, b);
}

#define SAME_STAT(a, b, field)                                                 \
  do {                                                                         \
    assert_same_double((a)->field.median, (b)->field.median, #field);          \
    assert_same_double((a)->field.min, (b)->field.min, #field);                \
    assert_same_double((a)->field.max, (b)->field.max, #field);                \
    assert_same_double((a)->field.lo, (b)->field.lo, #field);                  \
    assert_same_double((a)->field.hi, (b)->field.hi, #field);                  \
    assert_int_equal((a)->field.n, (b)->field.n);                              \
  } while (0)

static void assert_same_cell(const struct fb_compare_cell *a,
                             const struct fb_compare_cell *b) {
  assert_string_equal(a->engine, b->engine);
  assert_int_equal(a->workers, b->workers);
  assert_int_equal(a->runs, b->runs);
  assert_int_equal(a->failed, b->failed);
  assert_string_equal(a->note, b->note);
  assert_int_equal(a->urls, b->urls);
  assert_int_equal(a->requests, b->requests);
  assert_int_equal(a->errors, b->errors);
  for (int o = 0; o < FB_OUTCOME_COUNT; o++)
    if (o != FB_OUTCOME_OK)
      assert_int_equal(a->outcomes[o], b->outcomes[o]);
  SAME_STAT(a, b, wall_s);
  SAME_STAT(a, b, cpu_user_s);
  SAME_STAT(a, b, cpu_sys_s);
  SAME_STAT(a, b, cpu_s);
  SAME_STAT(a, b, child_cpu_s);
  SAME_STAT(a, b, cpu_per_req_ms);
  SAME_STAT(a, b, max_rss_kib);
  SAME_STAT(a, b, rss_sum_kib);
  SAME_STAT(a, b, latency_p50_ms);
  SAME_STAT(a, b, latency_p99_ms);
  SAME_STAT(a, b, ttfb_p50_ms);
  SAME_STAT(a, b, req_per_s);
  SAME_STAT(a, b, run_efficiency);
  assert_same_double(a->ideal_s, b->ideal_s, "ideal_s");
  assert_same_double(a->efficiency, b->efficiency, "efficiency");
  for (unsigned r = 0; r < a->runs; r++)
    assert_same_double(a->summaries[r].wall_s, b->summaries[r].wall_s,
                       "runs_wall_s");
  /* Schema 2: each run's samples of the figures the verdict tests, and the
   * merged histograms, bucket by bucket.
   */
  for (unsigned r = 0; r < a->runs; r++)
    for (int f = 0; f < FB_FIGURE_COUNT; f++)
      assert_same_double(fb_compare_figure_value(&a->summaries[r], f),
                         fb_compare_figure_value(&b->summaries[r], f),
                         fb_compare_figure_name(f));
  assert_int_equal(a->hists == NULL, b->hists == NULL);
  if (a->hists != NULL)
    assert_memory_equal(a->hists, b->hists, sizeof(*a->hists));
}

static void test_round_trip(void **state) {
  struct fb_compare cmp;
  struct fb_results res;
  char err[512], *json, *again, *text_a, *text_b, *html_a, *html_b;

  (void)state;
  make_sweep(&cmp, "10 pages of \"corpus\" <synthetic> & more");
  cmp.cancelled = 1;
  json = written(fb_report_compare_json, &cmp);
  assert_int_equal(read_text(&res, json, err, sizeof(err)), 0);
  assert_int_equal(res.schema, FB_REPORT_SCHEMA);
  assert_int_equal(res.cmp.ncells, cmp.ncells);
  assert_int_equal(res.cmp.repeats, cmp.repeats);
  assert_same_double(res.cmp.delay_ms, cmp.delay_ms, "delay_ms");
  assert_same_double(res.cmp.elapsed_s, cmp.elapsed_s, "elapsed_s");
  assert_int_equal(res.cmp.runs_done, cmp.runs_done);
  assert_int_equal(res.cmp.cancelled, 1);
  assert_string_equal(res.cmp.ctx.workload, cmp.ctx.workload);
  assert_string_equal(res.cmp.ctx.machine, cmp.ctx.machine);
  assert_string_equal(res.cmp.ctx.origin, cmp.ctx.origin);
  assert_string_equal(res.cmp.ctx.corpus, cmp.ctx.corpus);
  assert_string_equal(res.cmp.ctx.connection, cmp.ctx.connection);
  assert_int_equal(res.cmp.ctx.client_cpu, 0);
  assert_int_equal(res.cmp.ctx.origin_cpu, 1);
  assert_int_equal(res.cmp.ctx.jitter_ms, 2);
  for (size_t i = 0; i < cmp.ncells; i++)
    assert_same_cell(&res.cmp.cells[i], &cmp.cells[i]);

  /* The same sweep says the same things in every format. */
  again = written(fb_report_compare_json, &res.cmp);
  assert_string_equal(again, json);
  text_a = written(fb_report_compare_text, &cmp);
  text_b = written(fb_report_compare_text, &res.cmp);
  assert_string_equal(text_a, text_b);
  assert_non_null(strstr(text_a, "runs failed (killed by signal 9"));
  html_a = written(fb_report_compare_html, &cmp);
  html_b = written(fb_report_compare_html, &res.cmp);
  assert_string_equal(html_a, html_b);
  assert_non_null(strstr(html_a, "10 pages of &quot;corpus&quot; "
                                 "&lt;synthetic&gt; &amp; more"));
  assert_non_null(strstr(html_a, "<tr id=\"cell-1\" data-engine=\"threads\" "
                                 "data-workers=\"1\" class=\"bad\">"));
  assert_non_null(strstr(html_a, "<details id=\"problem-2\""));
  assert_null(strstr(html_a, "<details id=\"problem-0\""));
  free(json);
  free(again);
  free(text_a);
  free(text_b);
  free(html_a);
  free(html_b);
  fb_results_cleanup(&res);
  fb_results_cleanup(&res); /* twice is safe */
  fb_compare_cleanup(&cmp);
}

/* One line of json (1-based) with `from` replaced by `to`, or cut there
 * when to is NULL; the result is malloc'ed.
 */
static char *edit(const char *json, int line, const char *from,
                  const char *to) {
  const char *p = json, *hit;
  char *out;
  size_t head;

  for (int l = 1; l < line; l++)
    p = strchr(p, '\n') + 1;
  hit = strstr(p, from);
  if (hit == NULL)
    fail_msg("'%s' not on line %d", from, line);
  head = (size_t)(hit - json);
  out = malloc(strlen(json) + (to != NULL ? strlen(to) : 0) + 1);
  assert_non_null(out);
  memcpy(out, json, head);
  if (to == NULL) {
    out[head] = '\0';
    return out;
  }
  strcpy(out + head, to);
  strcat(out, hit + strlen(from));
  return out;
}

static void refused(const char *text, const char *want) {
  struct fb_results res;
  char err[512];

  assert_int_equal(read_text(&res, text, err, sizeof(err)), FB_ERESULTS);
  if (strstr(err, want) == NULL)
    fail_msg("wanted '%s' in '%s'", want, err);
  assert_int_equal(res.cmp.ncells, 0);
  assert_null(res.cmp.cells);
  fb_results_cleanup(&res);
}

static void test_refused(void **state) {
  static const struct {
    int line;
    const char *from, *to, *want;
  } cases[] = {
      {2, "\"runs\":", "\"runs\"", "saved.json:2: malformed JSON at column"},
      {3, "\"engine\"", NULL, "saved.json:3: malformed JSON"},
      {3, "{\"schema\"", NULL,
       "saved.json:3: the file ends without its "
       "verdict line: truncated?"},
      {1, "\"workers\":1", "\"workers\":0",
       "saved.json:1: field 'workers' is 0, out of range 1..4294967295"},
      {1, "\"workers\":1", "\"workers\":1.5",
       "saved.json:1: field 'workers' is a number, expected a whole number"},
      {2, "\"wall_s\":{\"median\"", "\"wall_s\":{\"middle\"",
       "saved.json:2: field 'wall_s.median' missing"},
      {2, "\"recv\":1", "\"recv\":\"1\"",
       "saved.json:2: field 'errors.recv' is a string"},
      {2, "\"recv\":1", "\"recv\":2",
       "saved.json:2: field 'errors': the "
       "counts sum to 3, 'errors_total' says 2"},
      {2, "\"errors\":{", "\"errors\":{\"ok\":1,",
       "saved.json:2: field 'errors.ok': a success is not an error"},
      {3, "\"runs_wall_s\":[", "\"runs_wall_s\":[1,",
       "saved.json:3: field 'runs_wall_s' holds 3 wall times for 2 runs"},
      {2, "\"machine\":\"test", "\"machine\":\"other",
       "saved.json:2: field 'machine' differs from line 1's"},
      {4, "\"cells\":3", "\"cells\":4",
       "saved.json:4: the verdict counts 4 cells, the file holds 3"},
      {4, "\"cancelled\":false", "\"cancelled\":0",
       "saved.json:4: field 'cancelled' is a whole number, expected a "
       "boolean"},
      {1, "\"schema\":2", "\"schema\":3",
       "saved.json:1: schema 3: this fetchbench reads schema 1 to 2"},
      {2, "\"engine\":\"threads\"", "\"engine\":\"sequential\"",
       "saved.json:2: a second cell sequential with 1 workers"},
      {2, "\"engine\":\"threads\"", "\"engine\":null",
       "saved.json:2: field 'engine' is null, expected an engine's name"},
      {1, "\"kind\":\"cell\",", "", "saved.json:1: field 'kind' missing"},
      {1, "{\"schema\":2,", "{\"schema\":2,\"schema\":2,",
       "saved.json:1: malformed JSON"},
  };
  struct fb_compare cmp;
  char *json;

  (void)state;
  make_sweep(&cmp, "w");
  json = written(fb_report_compare_json, &cmp);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *bad = edit(json, cases[i].line, cases[i].from, cases[i].to);

    refused(bad, cases[i].want);
    free(bad);
  }
  refused("", "saved.json:1: no cell and no verdict");
  refused("\n  \n[1]\n", "saved.json:3: a line is an array, expected a JSON "
                         "object");
  /* A verdict, then a cell: two sweeps. */
  {
    char *two = malloc(strlen(json) * 2 + 1);

    assert_non_null(two);
    strcpy(two, json);
    strcat(two, json);
    refused(two, "saved.json:5: a cell after the verdict line");
    free(two);
  }
  free(json);
  fb_compare_cleanup(&cmp);
}

static void test_tolerated(void **state) {
  struct fb_compare cmp;
  struct fb_results res;
  char err[512], *json, *a, *b, *c;

  (void)state;
  make_sweep(&cmp, "w");
  json = written(fb_report_compare_json, &cmp);
  /* Fields and kinds of a later version, blank lines, an outcome this
   * version does not know.
   */
  a = edit(json, 1, "{\"schema\":2,",
           "\n{\"schema\":2,\"kind\":\"histogram\",\"buckets\":[1,2]}\n"
           "  \t\n{\"schema\":2,\"future\":{\"x\":[null]},");
  b = edit(a, 5, "\"recv\":1", "\"quantum\":1");
  c = edit(b, 7, "\"cells\":3", "\"cells\":3,\"p_value\":0.04");
  assert_int_equal(read_text(&res, c, err, sizeof(err)), 0);
  assert_int_equal(res.cmp.ncells, 3);
  assert_int_equal(res.lines, 7);
  assert_int_equal(res.cmp.cells[1].outcomes[FB_OUTCOME_OTHER], 1);
  assert_int_equal(res.cmp.cells[1].outcomes[FB_OUTCOME_RECV], 0);
  assert_int_equal(res.cmp.cells[1].outcomes[FB_OUTCOME_TIMEOUT], 1);
  fb_results_cleanup(&res);
  free(a);
  free(b);
  free(c);
  free(json);
  fb_compare_cleanup(&cmp);
}

static void test_read_error(void **state) {
  struct fb_results res;
  char err[256];
  FILE *f = fopen("/dev/null", "w"); /* reading it fails */

  (void)state;
  assert_non_null(f);
  assert_int_equal(fb_results_read(&res, f, "out.json", err, sizeof(err)),
                   -EBADF);
  assert_string_equal(err, "out.json: Bad file descriptor");
  fclose(f);
  fb_results_cleanup(&res);
}

/* Bytes no JSON file can hold still reach the HTML writer from a sweep:
 * they come out escaped, invalid UTF-8 and controls as U+FFFD.
 */
static void test_html_escapes(void **state) {
  struct fb_compare cmp;
  char *html;

  (void)state;
  make_sweep(&cmp, "a\x01<b>\xff\xc3(\xc2\x85\xef\xb7\x90 x'\"&\xe2\x82\xac");
  cmp.cells[0].engine = "<i>seq</i>";
  html = written(fb_report_compare_html, &cmp);
  assert_non_null(strstr(html, "a\xef\xbf\xbd&lt;b&gt;\xef\xbf\xbd\xef\xbf\xbd"
                               "(\xef\xbf\xbd\xef\xbf\xbd x&#39;&quot;&amp;"
                               "\xe2\x82\xac"));
  assert_null(strstr(html, "<b>"));
  assert_null(strstr(html, "<i>"));
  assert_non_null(strstr(html, "data-engine=\"&lt;i&gt;seq&lt;/i&gt;\""));
  free(html);
  fb_compare_cleanup(&cmp);
}

static void test_html_write_error(void **state) {
  struct fb_compare cmp;
  FILE *f = fopen("/dev/full", "w");

  (void)state;
  if (f == NULL)
    skip();
  make_sweep(&cmp, "w");
  assert_int_equal(fb_report_compare_html(f, &cmp), -ENOSPC);
  fclose(f);
  fb_compare_cleanup(&cmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_tolerated),
      cmocka_unit_test(test_read_error),
      cmocka_unit_test(test_html_escapes),
      cmocka_unit_test(test_html_write_error),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
