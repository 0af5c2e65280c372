/* Fault outcomes: one URL list with every origin fault mode, ok URLs between
 * them and a closed port, run by the engine named in argv[1]. Every engine
 * must give each URL the outcome in the table below, so all engines agree.
 * The table is what libcurl 7.88 reports through fetch.c's mapping, observed
 * and then fixed here; the comments note where 7.88 is lenient or terse.
 * FB_FAULTS_PRINT=1 prints what was observed, to update the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines-fixture.h"

static const struct fb_engine *engine;

#define PAGE "intro/tutorial01.html"
#define TIMEOUT_MS 1000L
#define MAX_BODY (1ULL << 20)

/* NULL query: the closed port. */
struct fault_case {
  const char *query;
  enum fb_outcome want;
};

static const struct fault_case cases[] = {
    {"", FB_OUTCOME_OK},
    {NULL, FB_OUTCOME_CONNECT},
    {"?fault=reset", FB_OUTCOME_RECV},
    {"?fault=reset_body", FB_OUTCOME_RECV},
    {"?fault=short", FB_OUTCOME_RECV},
    {"?fault=stall", FB_OUTCOME_TIMEOUT},
    {"?fault=slow_headers", FB_OUTCOME_TIMEOUT}, /* 10 bytes/s */
    {"?fault=http500", FB_OUTCOME_HTTP},
    {"?fault=http503", FB_OUTCOME_HTTP},
    {"?fault=malformed", FB_OUTCOME_PROTOCOL},
    {"?fault=close", FB_OUTCOME_RECV},
    {"?fault=trickle", FB_OUTCOME_TIMEOUT},
    {"?fault=chunked_cut", FB_OUTCOME_RECV},
    {"?fault=bad_chunk", FB_OUTCOME_RECV},
    {"?fault=bad_length", FB_OUTCOME_PROTOCOL},
    {"?fault=negative_length", FB_OUTCOME_PROTOCOL},
    {"?fault=http09", FB_OUTCOME_PROTOCOL},
    {"?fault=huge_header", FB_OUTCOME_OTHER}, /* CURLE_OUT_OF_MEMORY */
    {"?fault=many_headers", FB_OUTCOME_OK},   /* no count limit */
    {"?fault=redirect_loop", FB_OUTCOME_REDIRECT},
    {"?fault=redirect_file", FB_OUTCOME_PROTOCOL},
    {"?fault=gzip_bomb", FB_OUTCOME_TOO_LARGE},
    {"?fault=huge_body", FB_OUTCOME_TOO_LARGE},
    {"?fault=endless", FB_OUTCOME_TOO_LARGE},
    {"?fault=continue", FB_OUTCOME_TIMEOUT},
    {"?fault=close_idle", FB_OUTCOME_OK},
    {"?delay=20", FB_OUTCOME_OK},
};

#define NCASES (sizeof(cases) / sizeof(*cases))

/* Each fault URL is followed by an ok URL, so that a worker's next request
 * after a fault (on a connection the fault may have broken) is checked too.
 */
static struct fb_urlset *fault_urls(void) {
  struct fb_urlset *u = NULL;
  char url[512], err[256];
  int port = fx_closed_port();
  int len;

  assert_int_equal(fb_urlset_create(&u), 0);
  for (size_t i = 0; i < NCASES; i++) {
    if (cases[i].query == NULL)
      len = snprintf(url, sizeof(url), "http://127.0.0.1:%d/" PAGE, port);
    else
      len = snprintf(url, sizeof(url), "%s/" PAGE "%s",
                     fx_synthetic.proc.base_url, cases[i].query);
    if (fb_urlset_add(u, url, (size_t)len, err, sizeof(err)) != 0)
      fail_msg("%s: %s", url, err);
    len = snprintf(url, sizeof(url), "%s/" PAGE, fx_synthetic.proc.base_url);
    assert_int_equal(fb_urlset_add(u, url, (size_t)len, err, sizeof(err)), 0);
  }
  return u;
}

static void run_faults(enum fb_connection mode) {
  const struct fb_page *page =
      fb_corpus_find(fx_synthetic.corpus, PAGE, strlen(PAGE));
  struct fb_urlset *u = fault_urls();
  int print = getenv("FB_FAULTS_PRINT") != NULL;
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;
  int failed = 0;
  int rc;

  assert_non_null(page);
  fb_job_init(&job);
  job.urls = u;
  job.connection = mode;
  job.workers = engine->max_workers < 8 ? engine->max_workers : 8;
  job.timeout_ms = TIMEOUT_MS;
  job.connect_timeout_ms = 1000;
  job.low_speed_secs = 0;
  job.max_body = MAX_BODY;
  rc = fb_run_measure(engine, &job, -1, &s, &c);
  assert_int_equal(rc, 0);
  assert_int_equal(fb_collector_check(c, NULL), 0);

  for (size_t i = 0; i < fb_urlset_count(u); i++) {
    const struct fb_result *r = fb_collector_get(c, i);
    const struct fault_case *fc = &cases[i / 2];
    enum fb_outcome want = i % 2 == 0 ? fc->want : FB_OUTCOME_OK;

    assert_non_null(r);
    if (print)
      fprintf(stderr, "%-28s %-10s status %3u code %2d %6.0f ms %s\n",
              i % 2 == 0 ? (fc->query != NULL ? fc->query : "closed port")
                         : "  then ok",
              fb_outcome_name(r->outcome), r->http_status, r->error_code,
              (double)(r->t_done - r->t_start) / 1e6,
              r->message != NULL ? r->message : "");
    if (r->outcome != want) {
      fprintf(stderr, "%s: %s, want %s (%s)\n", fb_urlset_get(u, i),
              fb_outcome_name(r->outcome), fb_outcome_name(want),
              r->message != NULL ? r->message : "");
      failed++;
      continue;
    }
    if (want == FB_OUTCOME_OK) {
      assert_int_equal(r->http_status, 200);
      assert_int_equal(r->body_bytes, page->len);
      assert_int_equal(r->checksum, page->xxh3);
    } else if (want == FB_OUTCOME_HTTP) {
      assert_true(r->http_status >= 500);
    } else {
      /* A transport failure keeps curl's code and words. */
      assert_int_not_equal(r->error_code, 0);
      assert_non_null(r->message);
      assert_true(r->message[0] != '\0');
    }
    if (want == FB_OUTCOME_TIMEOUT)
      assert_true(r->t_done - r->t_start >= (TIMEOUT_MS - 50) * FB_NS_PER_MS);
  }
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
  if (failed > 0)
    fail_msg("%d URLs with an unexpected outcome", failed);
}

static void test_faults_reuse(void **state) {
  (void)state;
  run_faults(FB_CONN_REUSE);
}

static void test_faults_fresh(void **state) {
  (void)state;
  run_faults(FB_CONN_FRESH);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_faults_reuse),
      cmocka_unit_test(test_faults_fresh),
  };
  int rc;

  if (argc != 2 || (engine = fb_engine_find(argv[1])) == NULL) {
    fprintf(stderr, "usage: %s ENGINE\n", argv[0]);
    return 2;
  }
  if (fx_engine_skip(engine) != 0)
    return 77;
  fx_global_init();
  rc = cmocka_run_group_tests_name(argv[1], tests, fx_group_setup,
                                   fx_group_teardown);
  fx_global_cleanup();
  return rc;
}
