/* SPDX-License-Identifier: MIT */
/* Reliability across the engines, in one program so that they can be
 * compared with each other:
 *
 * agree   one faulty URL list (every origin fault mode, a closed port, a
 *         connect timeout) through every engine: each URL gets the same
 *         outcome, status and curl code from all of them, within a bounded
 *         time, none lost; partial bodies are true prefixes of the page;
 *         the body cap holds memory down against a gzip bomb.
 * nofile  the open-files limit below the concurrency: the run completes
 *         with one result per URL, the missing descriptors showing as
 *         per-URL errors (or, for processes, as fewer workers).
 *
 * Per-engine outcome tables are test-faults.c's; this program checks that
 * the engines agree and that every fault ends in bounded time.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "engines-fixture.h"

#define PAGE "intro/tutorial01.html"
#define TIMEOUT_MS 1000L
#define MAX_BODY (1ULL << 20)
/* Slack over the job's timeout for a request to be noticed and recorded. */
#define SLACK_MS 1500L

/* --- agree --------------------------------------------------------------- */

enum target { T_ORIGIN, T_CLOSED, T_BLACK_HOLE };

struct fault_case {
  const char *name;
  enum target target;
  const char *query;
  int prefix; /* a partial body that must be the start of the page */
};

static const struct fault_case cases[] = {
    {"ok", T_ORIGIN, "", 0},
    {"connection refused", T_CLOSED, "", 0},
    {"connect timeout", T_BLACK_HOLE, "", 0},
    {"accepted, never answered", T_ORIGIN, "?fault=stall", 0},
    {"a byte a second", T_ORIGIN, "?fault=trickle", 1},
    {"headers a byte at a time", T_ORIGIN, "?fault=slow_headers", 1},
    {"close, no reply", T_ORIGIN, "?fault=close", 0},
    {"reset before the reply", T_ORIGIN, "?fault=reset", 0},
    {"reset mid-body", T_ORIGIN, "?fault=reset_body", 1},
    {"short body, then close", T_ORIGIN, "?fault=short", 1},
    {"chunked body cut off", T_ORIGIN, "?fault=chunked_cut", 1},
    {"bad chunk size", T_ORIGIN, "?fault=bad_chunk", 0},
    {"invalid Content-Length", T_ORIGIN, "?fault=bad_length", 0},
    {"negative Content-Length", T_ORIGIN, "?fault=negative_length", 0},
    {"malformed status line", T_ORIGIN, "?fault=malformed", 0},
    {"HTTP/0.9 reply", T_ORIGIN, "?fault=http09", 0},
    {"100 KiB header", T_ORIGIN, "?fault=huge_header", 0},
    {"5000 headers", T_ORIGIN, "?fault=many_headers", 0},
    {"redirect loop", T_ORIGIN, "?fault=redirect_loop", 0},
    {"redirect to file://", T_ORIGIN, "?fault=redirect_file", 0},
    {"gzip bomb", T_ORIGIN, "?fault=gzip_bomb", 0},
    {"1 GiB body", T_ORIGIN, "?fault=huge_body", 0},
    {"endless stream", T_ORIGIN, "?fault=endless", 0},
    {"100-continue, no final status", T_ORIGIN, "?fault=continue", 0},
    {"keep-alive closed after the reply", T_ORIGIN, "?fault=close_idle", 0},
    {"500", T_ORIGIN, "?fault=http500", 0},
    {"503", T_ORIGIN, "?fault=http503", 0},
};

#define NCASES (sizeof(cases) / sizeof(*cases))
#define NENGINES 6 /* every engine of the registry, checked below */

/* What one engine recorded for one URL. */
struct seen {
  uint16_t outcome;
  uint16_t http_status;
  int32_t error_code;
  uint64_t body_bytes;
  uint64_t checksum;
  int64_t took_ms;
  int connected;
};

static void add(struct fb_urlset *u, const char *url) {
  char err[256];

  if (fb_urlset_add(u, url, strlen(url), err, sizeof(err)) != 0)
    fail_msg("%s: %s", url, err);
}

/* Each case is followed by an ok URL, so that a worker's next request after
 * a fault (on a connection the fault may have broken) is compared too.
 */
static struct fb_urlset *case_urls(int closed_port,
                                   const struct fx_black_hole *bh,
                                   int with_black_hole) {
  struct fb_urlset *u = NULL;
  char url[512];

  assert_int_equal(fb_urlset_create(&u), 0);
  for (size_t i = 0; i < NCASES; i++) {
    int port = cases[i].target == T_CLOSED ? closed_port : bh->port;

    if (cases[i].target == T_BLACK_HOLE && !with_black_hole)
      port = closed_port;
    if (cases[i].target == T_ORIGIN)
      snprintf(url, sizeof(url), "%s/" PAGE "%s", fx_synthetic.proc.base_url,
               cases[i].query);
    else
      snprintf(url, sizeof(url), "http://127.0.0.1:%d/" PAGE, port);
    add(u, url);
    snprintf(url, sizeof(url), "%s/" PAGE, fx_synthetic.proc.base_url);
    add(u, url);
  }
  return u;
}

static const char *case_name(size_t i) {
  return i % 2 == 0 ? cases[i / 2].name : "ok after it";
}

/* Runs engine e on u and records what it saw; checks what holds for one
 * engine alone: no lost result, bounded time, partial bodies are prefixes,
 * the body cap and bounded memory.
 */
static void run_one(const struct fb_engine *e, const struct fb_urlset *u,
                    enum fb_connection mode, int with_black_hole,
                    struct seen *out) {
  const struct fb_page *page =
      fb_corpus_find(fx_synthetic.corpus, PAGE, strlen(PAGE));
  struct fb_collector *c = NULL;
  long rss_before = -1;
  struct fb_summary s;
  struct fb_job job;
  int rc;

  assert_non_null(page);
  assert_int_equal(fb_proc_rss_kib(0, &rss_before, NULL), 0);
  fb_job_init(&job);
  job.urls = u;
  job.connection = mode;
  job.workers = e->max_workers < 8 ? e->max_workers : 8;
  job.timeout_ms = TIMEOUT_MS;
  job.connect_timeout_ms = TIMEOUT_MS;
  job.low_speed_secs = 0;
  job.max_body = MAX_BODY;
  rc = fb_run_measure(e, &job, -1, &s, &c);
  if (rc != 0)
    fail_msg("%s: run returned %s", e->name, fb_strerror(rc));
  assert_int_equal(fb_collector_check(c, NULL), 0);
  assert_int_equal(s.missing, 0);
  assert_int_equal(s.duplicates, 0);
  /* Every URL ran: a fault is never an excuse to skip or lose one. */
  assert_int_equal(s.outcomes[FB_OUTCOME_LOST] +
                       s.outcomes[FB_OUTCOME_CANCELLED] +
                       s.outcomes[FB_OUTCOME_NOT_RUN],
                   0);
  /* Bounded: the slow cases are each cut at the timeout. */
  assert_true(s.wall_s < 30.0);
  /* The 1 GiB gzip bomb, body and stream were cut at the 1 MiB cap: the
   * run's peak stays far below what inflating them would take.
   */
  if (rss_before > 0 && s.max_rss_kib > rss_before + (256L << 10))
    fail_msg("%s: peak RSS %ld KiB, %ld KiB before the run", e->name,
             s.max_rss_kib, rss_before);

  for (size_t i = 0; i < fb_urlset_count(u); i++) {
    const struct fb_result *r = fb_collector_get(c, i);
    struct seen *sn = &out[i];

    assert_non_null(r);
    sn->outcome = r->outcome;
    sn->http_status = r->http_status;
    sn->error_code = r->error_code;
    sn->body_bytes = r->body_bytes;
    sn->checksum = r->checksum;
    sn->took_ms = (r->t_done - r->t_start) / FB_NS_PER_MS;
    sn->connected = r->t_connected >= 0;
    if (getenv("FB_RELIABILITY_PRINT") != NULL)
      fprintf(stderr, "%-10s %-34s %-10s %3u code %2d %7llu B %5lld ms %s\n",
              e->name, case_name(i), fb_outcome_name(r->outcome),
              r->http_status, r->error_code, (unsigned long long)r->body_bytes,
              (long long)sn->took_ms, r->message != NULL ? r->message : "");
    if (r->t_start < 0 || sn->took_ms > TIMEOUT_MS + SLACK_MS)
      fail_msg("%s: %s took %lld ms", e->name, case_name(i),
               (long long)sn->took_ms);
    assert_true(r->body_bytes <= MAX_BODY);
    if (r->outcome == FB_OUTCOME_OK) {
      assert_int_equal(r->body_bytes, page->len);
      assert_int_equal(r->checksum, page->xxh3);
    } else if (r->outcome != FB_OUTCOME_HTTP) {
      /* A failed request keeps libcurl's code and words. */
      assert_int_not_equal(r->error_code, 0);
      assert_non_null(r->message);
    }
    if (i % 2 == 0 && cases[i / 2].prefix) {
      /* What arrived before the failure is counted and hashed: the start
       * of the page, never a success.
       */
      assert_int_not_equal(r->outcome, FB_OUTCOME_OK);
      assert_true(r->body_bytes < page->len);
      assert_int_equal(r->checksum, XXH3_64bits(page->body, r->body_bytes));
    }
    if (i % 2 == 0 && cases[i / 2].target == T_BLACK_HOLE && with_black_hole) {
      if (r->outcome != FB_OUTCOME_TIMEOUT || sn->connected)
        fail_msg("%s: connect timeout recorded as %s (%s)", e->name,
                 fb_outcome_name(r->outcome),
                 r->message != NULL ? r->message : "");
      assert_true(sn->took_ms >= TIMEOUT_MS - 50);
    }
  }
  fb_collector_destroy(c);
}

static void run_agree(enum fb_connection mode) {
  static struct seen seen[NENGINES][NCASES * 2];
  int ran[NENGINES];
  struct fx_black_hole bh;
  int with_black_hole = fx_black_hole_open(&bh) == 0;
  int closed = fx_closed_port();
  struct fb_urlset *u = case_urls(closed, &bh, with_black_hole);
  size_t n = fb_urlset_count(u);
  int differ = 0;

  if (!with_black_hole)
    fprintf(stderr, "this kernel completes connections to a full backlog: "
                    "connect timeout case not checked\n");
  assert_int_equal(n, NCASES * 2);
  /* An engine this system refuses is left out, saying why. */
  for (int k = 0; k < NENGINES; k++) {
    assert_non_null(fb_engines[k]);
    ran[k] = fx_engine_skip(fb_engines[k]) == 0;
    if (ran[k])
      run_one(fb_engines[k], u, mode, with_black_hole, seen[k]);
  }
  assert_null(fb_engines[NENGINES]);
  assert_true(ran[0]);

  for (size_t i = 0; i < n; i++) {
    for (int k = 1; k < NENGINES; k++) {
      const struct seen *a = &seen[0][i], *b = &seen[k][i];

      if (!ran[k])
        continue;

      /* Whether a request found a connection to reuse depends on which
       * worker had which connection: compared with fresh connections only.
       */
      if (a->outcome == b->outcome && a->http_status == b->http_status &&
          a->error_code == b->error_code &&
          (mode == FB_CONN_REUSE || a->connected == b->connected) &&
          (a->outcome != FB_OUTCOME_OK || a->checksum == b->checksum))
        continue;
      fprintf(stderr,
              "%s (URL %zu): %s says %s status %u code %d connected %d, "
              "%s says %s status %u code %d connected %d\n",
              case_name(i), i, fb_engines[0]->name, fb_outcome_name(a->outcome),
              a->http_status, a->error_code, a->connected, fb_engines[k]->name,
              fb_outcome_name(b->outcome), b->http_status, b->error_code,
              b->connected);
      differ++;
    }
  }
  fx_black_hole_close(&bh);
  fb_urlset_destroy(u);
  if (differ > 0)
    fail_msg("%d disagreements between engines", differ);
}

static void test_agree_reuse(void **state) {
  (void)state;
  run_agree(FB_CONN_REUSE);
}

static void test_agree_fresh(void **state) {
  (void)state;
  run_agree(FB_CONN_FRESH);
}

/* --- nofile -------------------------------------------------------------- */

#define NOFILE_LIMIT 64
#define NOFILE_URLS 400

struct nofile_arg {
  const struct fb_engine *e;
  unsigned workers;
};

/* In a child (fx_in_child), so that the limit stays there. Returns the
 * child's exit status: 0 when the run held up.
 */

static int nofile_child(void *arg) {
  const struct fb_engine *e = ((const struct nofile_arg *)arg)->e;
  unsigned workers = ((const struct nofile_arg *)arg)->workers;
  struct fb_urlset *u =
      fx_urls_pages(&fx_synthetic, 0, NOFILE_URLS, "?delay=200");
  struct fb_collector *c = NULL;
  const struct fb_engine_stats *st;
  size_t per_url = 0, ok, bad = 0;
  struct fb_summary s;
  struct rlimit rl;
  struct fb_job job;
  int rc;

  /* Only the soft limit: valgrind refuses to change the hard one. */
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 2;
  rl.rlim_cur = NOFILE_LIMIT;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 2;
  fb_job_init(&job);
  job.urls = u;
  job.workers = workers;
  job.timeout_ms = 10000;
  rc = fb_run_measure(e, &job, -1, &s, &c);
  st = fb_collector_stats_const(c);
  ok = s.outcomes[FB_OUTCOME_OK];
  for (int o = FB_OUTCOME_HTTP; o < FB_OUTCOME_COUNT; o++) {
    if (o == FB_OUTCOME_LOST || o == FB_OUTCOME_CANCELLED ||
        o == FB_OUTCOME_NOT_RUN)
      bad += s.outcomes[o];
    else
      per_url += s.outcomes[o];
  }
  fprintf(stderr,
          "%s: open files %d, %u workers asked, %u started: rc %s, "
          "%zu ok, %zu connect, %zu other per-URL errors, %zu lost\n",
          e->name, NOFILE_LIMIT, workers, st->workers_started,
          rc == 0 ? "0" : fb_strerror(rc), ok, s.outcomes[FB_OUTCOME_CONNECT],
          per_url - s.outcomes[FB_OUTCOME_CONNECT], bad);
  if (rc != 0 || fb_collector_check(c, NULL) != 0 || bad != 0 ||
      ok + per_url != fb_urlset_count(u) || ok == 0)
    rc = 1;
  /* The descriptors ran out somewhere: either requests failed, or the
   * pool is smaller than asked (a worker process needs its pipes).
   */
  if (per_url == 0 && st->workers_started >= workers)
    rc = 1;
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
  return rc == 0 ? 0 : 1;
}

static void run_nofile(const char *name, unsigned workers) {
  const struct fb_engine *e = fb_engine_find(name);
  struct nofile_arg a = {e, workers};

  assert_non_null(e);
  if (fx_in_child(nofile_child, &a, name) != 0)
    fail_msg("%s: the run did not hold up under the open-files limit", name);
}

static void test_nofile_threads(void **state) {
  (void)state;
  run_nofile("threads", 200);
}

static void test_nofile_processes(void **state) {
  (void)state;
  run_nofile("processes", 100);
}

static void test_nofile_async(void **state) {
  (void)state;
  run_nofile("async", 200);
}

static void test_nofile_raw(void **state) {
  (void)state;
  run_nofile("raw", 200);
}

static void test_nofile_uring(void **state) {
  (void)state;
  if (fx_engine_skip(fb_engine_find("uring")) != 0)
    skip();
  run_nofile("uring", 200);
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  const struct CMUnitTest agree[] = {
      cmocka_unit_test(test_agree_reuse),
      cmocka_unit_test(test_agree_fresh),
  };
  const struct CMUnitTest nofile[] = {
      cmocka_unit_test(test_nofile_threads),
      cmocka_unit_test(test_nofile_processes),
      cmocka_unit_test(test_nofile_async),
      cmocka_unit_test(test_nofile_raw),
      cmocka_unit_test(test_nofile_uring),
  };
  const char *group = argc > 1 ? argv[1] : "agree";
  int rc;

  fx_global_init();
  if (strcmp(group, "agree") == 0) {
    rc = cmocka_run_group_tests_name("agree", agree, fx_group_setup,
                                     fx_group_teardown);
  } else if (strcmp(group, "nofile") == 0) {
    rc = cmocka_run_group_tests_name("nofile", nofile, fx_group_setup,
                                     fx_group_teardown);
  } else {
    fprintf(stderr, "usage: %s agree|nofile\n", argv[0]);
    rc = 2;
  }
  fx_global_cleanup();
  return rc;
}
