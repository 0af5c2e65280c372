/* SPDX-License-Identifier: MIT */
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
      len = snprintf(url, sizeof(url), "%s://127.0.0.1:%d/" PAGE,
                     fx_tls ? "https" : "http", port);
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
  fx_job_init(&job, &fx_synthetic);
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

/* Over https only: the faults of the TLS handshake, asked for by server
 * name (the request with its ?fault= comes after the handshake), a body cut
 * without close_notify, and a certificate nobody said to trust.
 */
static const struct {
  const char *host; /* NULL: 127.0.0.1 */
  const char *query;
  enum fb_outcome want;
} tls_cases[] = {
    {"tls-stall.localhost", "", FB_OUTCOME_TIMEOUT},
    {"tls-garbage.localhost", "", FB_OUTCOME_TLS},
    {"tls-reset.localhost", "", FB_OUTCOME_TLS},
    {"tls-wrong-name.localhost", "", FB_OUTCOME_TLS},
    {"tls-expired.localhost", "", FB_OUTCOME_TLS},
    {NULL, "?fault=tls_cut", FB_OUTCOME_RECV},
    {"localhost", "", FB_OUTCOME_OK},
};

static void run_tls(enum fb_connection mode, int trusted, int verify) {
  struct fb_urlset *u = NULL;
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;
  char url[512], err[256];
  size_t n = sizeof(tls_cases) / sizeof(tls_cases[0]);
  int failed = 0;

  assert_int_equal(fb_urlset_create(&u), 0);
  for (size_t i = 0; i < n; i++) {
    int len =
        snprintf(url, sizeof(url), "https://%s:%d/" PAGE "%s",
                 tls_cases[i].host != NULL ? tls_cases[i].host : "127.0.0.1",
                 fx_synthetic.proc.port, tls_cases[i].query);

    if (fb_urlset_add(u, url, (size_t)len, err, sizeof(err)) != 0)
      fail_msg("%s: %s", url, err);
  }
  fx_job_init(&job, &fx_synthetic);
  if (!trusted)
    job.cacert = NULL; /* the system's CAs: the origin's is not among them */
  job.verify_tls = verify;
  job.urls = u;
  job.connection = mode;
  job.workers = engine->max_workers < 4 ? engine->max_workers : 4;
  job.timeout_ms = TIMEOUT_MS;
  job.connect_timeout_ms = 1000;
  job.low_speed_secs = 0;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), 0);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  for (size_t i = 0; i < n; i++) {
    const struct fb_result *r = fb_collector_get(c, i);
    enum fb_outcome want = tls_cases[i].want;

    /* Untrusted, every handshake that gets as far as the certificate is
     * refused; unverified, only those that never get there fail.
     */
    if (!trusted && verify && want != FB_OUTCOME_TIMEOUT)
      want = FB_OUTCOME_TLS;
    if (!verify && (i == 3 || i == 4))
      want = FB_OUTCOME_OK;
    if (r->outcome != want) {
      fprintf(stderr, "%s: %s, want %s (%s)\n", fb_urlset_get(u, i),
              fb_outcome_name(r->outcome), fb_outcome_name(want),
              r->message != NULL ? r->message : "");
      failed++;
    } else if (want == FB_OUTCOME_TLS) {
      /* libcurl's words, and the reason a trusted certificate was refused
       * for (an untrusted one is refused as self-signed first).
       */
      assert_non_null(r->message);
      if (trusted && (i == 3 || i == 4) &&
          strstr(r->message, i == 4   ? "expired"
                             : i == 3 ? "name"
                                      : "cert") == NULL)
        fail_msg("%s: message \"%s\"", fb_urlset_get(u, i), r->message);
    } else if (want == FB_OUTCOME_OK) {
      assert_int_equal(r->http_status, 200);
      assert_true(r->handshake != FB_HANDSHAKE_NONE || r->reused);
    }
  }
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
  if (failed > 0)
    fail_msg("%d URLs with an unexpected outcome", failed);
}

static void test_tls_faults(void **state) {
  (void)state;
  if (!fx_tls)
    skip();
  run_tls(FB_CONN_REUSE, 1, 1);
  run_tls(FB_CONN_FRESH, 1, 1);
  run_tls(FB_CONN_FRESH, 0, 1); /* not trusted: tls, never ok */
  run_tls(FB_CONN_FRESH, 0, 0); /* --insecure */
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
      cmocka_unit_test(test_tls_faults),
  };
  int rc;

  if (argc < 2 || argc > 3 || (engine = fb_engine_find(argv[1])) == NULL ||
      fx_scheme_args(argc, argv, 2) != 0) {
    fprintf(stderr, "usage: %s ENGINE [http|https]\n", argv[0]);
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
