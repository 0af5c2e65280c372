/* SPDX-License-Identifier: MIT */
/* The async engine's own tests: what the shared conformance and fault tests
 * cannot see. The test build of the engines (FB_UNITTEST) hands the loop's
 * counters (how timeouts were served, how polls were used) to a hook
 * (src/engines/testhooks.h).
 *
 * Groups, chosen by the first argument: "loop" (quick), "limits" (the
 * open-files limit, cancellation, SIGINT) and "scale" (5,000 in flight).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines-fixture.h"
#include "engines/testhooks.h"

struct outcome_counts {
  size_t n[FB_OUTCOME_COUNT];
};

/* One run of the engine: its job, the collector it filled, the loop's
 * counters and the outcomes counted. The run owns u (run_free).
 */
struct run {
  struct fb_job job;
  struct fb_urlset *u;
  struct fb_collector *c;
  struct fb__async_counters k;
  struct outcome_counts oc;
};

static void run_init(struct run *r, struct fb_urlset *u, unsigned workers) {
  memset(r, 0, sizeof(*r));
  fb_job_init(&r->job);
  r->u = u;
  r->job.urls = u;
  r->job.workers = workers;
}

/* Runs the engine on r's job and returns its code. */
static int run_go(struct run *r) {
  int rc;

  assert_int_equal(fb_collector_create(&r->c, fb_urlset_count(r->u)), 0);
  fb__test_hooks.async_counters = &r->k;
  fb_collector_restart(r->c);
  rc = fb_engine_find("async")->run(&r->job, r->c);
  fb__test_hooks.async_counters = NULL;
  for (size_t i = 0; i < fb_collector_size(r->c); i++) {
    const struct fb_result *res = fb_collector_get(r->c, i);

    if (res != NULL && res->outcome < FB_OUTCOME_COUNT)
      r->oc.n[res->outcome]++;
  }
  return rc;
}

static void run_free(struct run *r) {
  fb_collector_destroy(r->c);
  fb_urlset_destroy(r->u);
}

/* --- loop ---------------------------------------------------------------- */

/* Keep-alive: every page arrives intact, connections are reused, one poll
 * handle per fd number served them all, and each stayed registered from one
 * request to the next (CURL_POLL_REMOVE is taken lazily).
 */
static void test_reuse(void **state) {
  struct run r;
  size_t reused;

  (void)state;
  run_init(&r, fx_urls_cycle(300, NULL), 8);
  assert_int_equal(run_go(&r), 0);
  reused = fx_assert_all_ok(&fx_synthetic, r.u, r.c, 8);
  assert_true(reused >= 300 - 8);
  assert_true(r.k.max_in_flight == 8);
  assert_true(r.k.poll_inits <= 8);
  assert_true(r.k.poll_starts <= 2 * 8);
  assert_int_equal(r.k.stale_sockets, 0);
  assert_true(fb_collector_stats_const(r.c)->setup_ns > 0);
  run_free(&r);
}

/* More slots than one shard holds: the slots are spread over multi handles
 * of at most 64, each slot stays with its shard, so each shard's connection
 * cache serves its own slots and no more connections are opened than there
 * are slots. Once every URL has started, connections close as their last
 * transfer ends, none is left for teardown.
 */
static void test_shards(void **state) {
  struct run r;
  size_t reused;

  (void)state;
  run_init(&r, fx_urls_small(800, "?delay=20"), 200);
  /* The last 200 answers take a second, so all of them are in flight when
   * the last URL starts, whatever the machine's speed. With 20 ms answers
   * throughout, a loaded machine under valgrind ended more transfers in one
   * loop iteration than a refill burst starts, and fewer than half of the
   * slots were busy at that moment.
   */
  fx_add_small(r.u, 200, "?delay=1000");
  assert_int_equal(run_go(&r), 0);
  reused = fx_assert_all_ok(&fx_synthetic, r.u, r.c, 200);
  assert_int_equal(r.k.shards, 4);
  assert_int_equal(r.k.max_in_flight, 200);
  /* Early transfers may end before the fill does: later slots of their
   * shard then take over their connections.
   */
  assert_true(1000 - reused <= 200);
  assert_int_equal(r.k.closes, 1000 - reused);
  /* The transfers in flight when the last one started closed their
   * connections as they ended; those idle at that moment close at teardown.
   */
  assert_int_equal(r.k.last_lap, 200);
  assert_true(r.k.closes_in_run >= r.k.last_lap);
  assert_int_equal(r.k.stale_sockets, 0);
  run_free(&r);
}

/* Fresh connections: a new socket per request, yet the poll handles are
 * reused by fd number instead of created per connection.
 */
static void test_fresh(void **state) {
  struct run r;

  (void)state;
  run_init(&r, fx_urls_cycle(300, NULL), 4);
  r.job.connection = FB_CONN_FRESH;
  assert_int_equal(run_go(&r), 0);
  assert_int_equal(fx_assert_all_ok(&fx_synthetic, r.u, r.c, 4), 0);
  /* 300 connections on a handful of fd numbers. */
  assert_true(r.k.poll_inits <= 2 * 4);
  assert_true(r.k.poll_starts >= 300);
  /* Every socket was closed through the loop, none behind its back. */
  assert_true(r.k.closes >= 300);
  assert_int_equal(r.k.stale_sockets, 0);
  run_free(&r);
}

/* The origin closes every keep-alive connection right after its answer:
 * libcurl opens a new connection for the next request (it finds the dead
 * one itself when a new transfer would reuse it), and every page arrives.
 */
static void test_close_idle(void **state) {
  struct run r;

  (void)state;
  run_init(&r, fx_urls_cycle(100, "?fault=close_idle"), 4);
  assert_int_equal(run_go(&r), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 4);
  assert_int_equal(r.k.stale_sockets, 0);
  run_free(&r);
}

/* A connection the server closes while libcurl holds it idle reports on a
 * socket libcurl let go of (CURL_POLL_REMOVE) but the loop still polls: the
 * loop must stop polling it without calling libcurl. To make that happen
 * every time, an origin of its own closes keep-alive connections idle for
 * 100 ms, while the last request (400 ms) keeps the run going with three
 * idle connections.
 */
static void test_idle_closed_by_server(void **state) {
  struct fx_origin idle = {.corpus = fx_synthetic.corpus};
  struct fb_origin_config cfg;
  struct run r;
  char err[512];

  (void)state;
  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  cfg.seed = FX_SEED;
  cfg.idle_timeout_ms = 100;
  if (fb_origin_spawn(&idle.proc, &cfg, err, sizeof(err)) != 0)
    fail_msg("origin: %s", err);
  run_init(&r, fx_urls_pages(&idle, 0, 40, NULL), 4);
  fx_urls_add_pages(r.u, &idle, 40, 1, "?delay=400");
  assert_int_equal(run_go(&r), 0);
  fx_assert_all_ok(&idle, r.u, r.c, 4);
  assert_true(r.k.idle_events > 0);
  assert_int_equal(r.k.stale_sockets, 0);
  run_free(&r);
  assert_int_equal(fb_origin_reap(&idle.proc), 0);
}

/* URLs naming this machine instead of 127.0.0.1 go through libcurl's
 * threaded resolver, whose socketpair libcurl closes without the close
 * callback: the loop must stop polling it at CURL_POLL_REMOVE, or a later
 * socket on the same fd number would never be reported. Skipped when the
 * host name does not resolve to 127.0.0.1.
 */
static void test_hostname(void **state) {
  struct addrinfo hints, *res = NULL;
  char host[256], url[512], err[256];
  struct fb_urlset *pages = fx_urls_cycle(200, NULL);
  struct fb_urlset *u = NULL;
  const char *port = strrchr(fx_synthetic.proc.base_url, ':'); /* ":PORT" */
  int loopback = 0;

  (void)state;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (gethostname(host, sizeof(host)) == 0 &&
      getaddrinfo(host, NULL, &hints, &res) == 0) {
    const struct sockaddr_in *sin = (const void *)res->ai_addr;

    loopback = sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    freeaddrinfo(res);
  }
  if (!loopback) {
    fb_urlset_destroy(pages);
    skip();
  }
  assert_int_equal(fb_urlset_create(&u), 0);
  for (size_t i = 0; i < fb_urlset_count(pages); i++) {
    const char *path = strchr(fb_urlset_get(pages, i) + 7, '/');
    int len = snprintf(url, sizeof(url), "http://%s%s%s", host, port, path);

    assert_int_equal(fb_urlset_add(u, url, (size_t)len, err, sizeof(err)), 0);
  }
  for (int fresh = 0; fresh < 2; fresh++) {
    struct run r;

    run_init(&r, u, 8);
    r.job.timeout_ms = 5000; /* a lost poll shows up as timeouts, not a hang */
    r.job.connection = fresh ? FB_CONN_FRESH : FB_CONN_REUSE;
    assert_int_equal(run_go(&r), 0);
    assert_int_equal(fb_collector_check(r.c, NULL), 0);
    assert_int_equal(r.oc.n[FB_OUTCOME_OK], fb_urlset_count(u));
    /* The resolver's sockets (if the loop saw one before the answer came)
     * were all stopped at CURL_POLL_REMOVE.
     */
    assert_int_equal(r.k.untracked_removes, r.k.untracked_sockets);
    fb_collector_destroy(r.c); /* u serves both runs */
  }
  fb_urlset_destroy(u);
  fb_urlset_destroy(pages);
}

/* A closed loop of tiny requests: libcurl asks for a 0 ms timeout to start
 * every transfer, and each one must be served by the next loop iteration
 * (the idle handle), not by a uv_timer rounded up to 1 ms. Counted, not
 * timed.
 */
static void test_zero_timeout(void **state) {
  const size_t n = 400;
  struct run r;

  (void)state;
  run_init(&r, fx_urls_small(n, NULL), 1);
  assert_int_equal(run_go(&r), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 1);
  assert_true(r.k.zero_timeouts >= n);
  assert_true(r.k.kicks >= n);
  /* No request waited on the timer: none of them ran into a timeout. */
  assert_true(r.k.timer_fires < n / 10);
  run_free(&r);
}

/* Timeouts over 0 ms go through the uv_timer: requests that outlast
 * CURLOPT_TIMEOUT end as timeouts when it fires.
 */
static void test_timer(void **state) {
  struct run r;

  (void)state;
  run_init(&r, fx_urls_small(6, "?delay=3000"), 3);
  r.job.timeout_ms = 150;
  assert_int_equal(run_go(&r), 0);
  assert_int_equal(fb_collector_check(r.c, NULL), 0);
  assert_int_equal(r.oc.n[FB_OUTCOME_TIMEOUT], 6);
  assert_true(r.k.timer_fires >= 2);
  run_free(&r);
}

/* A refused connect reaches the poll callback as an error status, which
 * must go to libcurl as CURL_CSELECT_ERR: ignored, the transfers would sit
 * until the connect timeout and end as timeouts instead.
 */
static void test_poll_error(void **state) {
  struct fb_urlset *u = NULL;
  struct run r;
  char url[128];
  char err[256];
  int port = fx_closed_port();

  (void)state;
  assert_int_equal(fb_urlset_create(&u), 0);
  for (int i = 0; i < 20; i++) {
    int len = snprintf(url, sizeof(url), "http://127.0.0.1:%d/x%d", port, i);

    assert_int_equal(fb_urlset_add(u, url, (size_t)len, err, sizeof(err)), 0);
  }
  run_init(&r, u, 5);
  r.job.connect_timeout_ms = 20000;
  assert_int_equal(run_go(&r), 0);
  assert_int_equal(fb_collector_check(r.c, NULL), 0);
  assert_int_equal(r.oc.n[FB_OUTCOME_CONNECT], 20);
  assert_true(r.k.poll_errors > 0);
  run_free(&r);
}

/* Outside 1..10,000 workers: refused, every URL accounted as not run. */
static void test_workers_range(void **state) {
  struct run r;

  (void)state;
  assert_int_equal(fb_engine_find("async")->max_workers, 10000);
  run_init(&r, fx_urls_small(3, NULL), 10001);
  assert_int_equal(run_go(&r), FB_ERANGE);
  assert_int_equal(r.oc.n[FB_OUTCOME_NOT_RUN], 3);
  run_free(&r);
}

/* More workers than URLs: one transfer slot per URL, all in flight. */
static void test_more_workers_than_urls(void **state) {
  struct run r;

  (void)state;
  run_init(&r, fx_urls_cycle(5, NULL), 10000);
  assert_int_equal(run_go(&r), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 5);
  assert_int_equal(r.k.max_in_flight, 5);
  assert_int_equal(fb_collector_stats_const(r.c)->workers_started, 5);
  run_free(&r);
}

/* --- limits -------------------------------------------------------------- */

static volatile sig_atomic_t cancel_flag;

/* Quick pages first, then pages that stall: cancelled part-way, the run
 * returns FB_ECANCELED with every URL accounted for: the quick ones ok, the
 * stalled ones and the never-started ones cancelled. With 50 in flight,
 * request 69 can only start once the 20 quick ones have ended.
 */
static void cancel_midrun(int use_signal) {
  struct fx_cancel k;
  struct run r;

  run_init(&r, fx_urls_small(20, NULL), 50);
  fx_add_cycle(r.u, 200, "?fault=stall");
  r.job.cancel = &cancel_flag;
  fx_cancel_arm(&k, &cancel_flag, 69, use_signal);
  assert_int_equal(run_go(&r), FB_ECANCELED);
  fx_cancel_disarm(&k);

  assert_int_equal(fb_collector_check(r.c, NULL), 0);
  assert_int_equal(r.oc.n[FB_OUTCOME_OK], 20);
  assert_int_equal(r.oc.n[FB_OUTCOME_CANCELLED], 200);
  /* The stalled transfers were in flight, the rest never started. */
  assert_int_equal(r.k.max_in_flight, 50);
  assert_true(r.k.loop_closed);
  run_free(&r);
}

static void test_cancel_flag(void **state) {
  (void)state;
  cancel_midrun(0);
}

static void test_cancel_sigint(void **state) {
  (void)state;
  cancel_midrun(1);
}

/* Cancelled before it starts: nothing runs, everything is cancelled. */
static void test_cancel_before(void **state) {
  struct run r;

  (void)state;
  cancel_flag = 1;
  run_init(&r, fx_urls_small(10, NULL), 4);
  r.job.cancel = &cancel_flag;
  assert_int_equal(run_go(&r), FB_ECANCELED);
  assert_int_equal(r.oc.n[FB_OUTCOME_CANCELLED], 10);
  assert_int_equal(r.k.actions, 0);
  assert_true(r.k.loop_closed);
  cancel_flag = 0;
  run_free(&r);
}

/* The open-files limit below the concurrency, in a child so that the limit
 * stays there: the sockets libcurl cannot open fail their URLs as
 * `resource` (out of descriptors, not the server's fault: issue 11), saying
 * the limit; no crash, one result per URL, the run returns 0.
 */
static int nofile_child(void *arg) {
  struct rlimit rl;
  struct run r;
  size_t per_url = 0;
  int rc;

  (void)arg;
  /* Only the soft limit: valgrind refuses to change the hard one. */
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 2;
  rl.rlim_cur = 256;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 2;
  run_init(&r, fx_urls_cycle(1000, "?delay=300"), 1000);
  rc = run_go(&r);
  for (int i = FB_OUTCOME_HTTP; i < FB_OUTCOME_LOST; i++)
    per_url += r.oc.n[i];
  per_url += r.oc.n[FB_OUTCOME_OTHER];
  fprintf(stderr,
          "nofile 256, 1000 in flight: rc %d, ok %zu, resource %zu, "
          "other per-URL errors %zu, loop closed %d\n",
          rc, r.oc.n[FB_OUTCOME_OK], r.oc.n[FB_OUTCOME_RESOURCE],
          per_url - r.oc.n[FB_OUTCOME_RESOURCE], (int)r.k.loop_closed);
  if (rc != 0 || fb_collector_check(r.c, NULL) != 0 ||
      r.oc.n[FB_OUTCOME_OK] + per_url != 1000 || r.oc.n[FB_OUTCOME_OK] == 0 ||
      r.oc.n[FB_OUTCOME_RESOURCE] == 0 || !r.k.loop_closed)
    rc = 1;
  /* Each says why, with the limit. */
  for (size_t i = 0; rc == 0 && i < fb_collector_size(r.c); i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    if (res->outcome == FB_OUTCOME_RESOURCE &&
        (res->message == NULL ||
         strstr(res->message, "open-files limit 256") == NULL)) {
      fprintf(stderr, "resource without the limit: %s\n",
              res->message != NULL ? res->message : "(none)");
      rc = 1;
    }
  }
  run_free(&r);
  return rc;
}

static void test_nofile(void **state) {
  (void)state;
  assert_int_equal(fx_in_child(nofile_child, NULL, NULL), 0);
}

/* --- scale --------------------------------------------------------------- */

/* 5,000 transfers in flight at once, every one of them complete and
 * intact. Each page is delayed 2 s so that they overlap: the engine starts
 * 64 at a time per loop iteration, which took 0.7 s for 5,000 here.
 */
static void test_5000(void **state) {
  struct run r;

  (void)state;
  run_init(&r, fx_urls_cycle(5000, "?delay=2000"), 5000);
  assert_int_equal(run_go(&r), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 5000);
  assert_int_equal(r.k.max_in_flight, 5000);
  assert_true(r.k.poll_inits >= 5000);
  assert_true(r.k.loop_closed);
  run_free(&r);
}

/* The first fill of 1,000 slots goes in bursts: requests leave while later
 * connections are still to be opened, so some transfer is connected (and
 * has sent its request) before the last one is even started. Started all
 * at once, every connection would be opened before the loop polled once.
 */
static void test_fill_bursts(void **state) {
  int64_t first_connected = INT64_MAX, last_start = 0;
  struct run r;

  (void)state;
  run_init(&r, fx_urls_small(1000, "?delay=1000"), 1000);
  assert_int_equal(run_go(&r), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 1000);
  assert_int_equal(r.k.max_in_flight, 1000);
  for (size_t i = 0; i < fb_collector_size(r.c); i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    if (res->t_start > last_start)
      last_start = res->t_start;
    if (res->t_connected >= 0 && res->t_connected < first_connected)
      first_connected = res->t_connected;
  }
  assert_true(first_connected < last_start);
  run_free(&r);
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  const struct CMUnitTest loop[] = {
      cmocka_unit_test(test_reuse),
      cmocka_unit_test(test_shards),
      cmocka_unit_test(test_fresh),
      cmocka_unit_test(test_close_idle),
      cmocka_unit_test(test_idle_closed_by_server),
      cmocka_unit_test(test_hostname),
      cmocka_unit_test(test_zero_timeout),
      cmocka_unit_test(test_timer),
      cmocka_unit_test(test_poll_error),
      cmocka_unit_test(test_workers_range),
      cmocka_unit_test(test_more_workers_than_urls),
  };
  const struct CMUnitTest limits[] = {
      cmocka_unit_test(test_cancel_flag),
      cmocka_unit_test(test_cancel_sigint),
      cmocka_unit_test(test_cancel_before),
      cmocka_unit_test(test_nofile),
  };
  const struct CMUnitTest scale[] = {
      cmocka_unit_test(test_5000),
      cmocka_unit_test(test_fill_bursts),
  };
  const char *group = argc > 1 ? argv[1] : "loop";
  int rc;

  /* Both sides of 5,000 connections need 5,000 fds and some: the origin
   * child inherits the limit raised here.
   */
  if (fx_raise_nofile(5200) != 0 && strcmp(group, "scale") == 0) {
    fprintf(stderr, "RLIMIT_NOFILE hard limit below 5200: skipped\n");
    return 77;
  }
  if (getenv("FB_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("FB_TEST_FILTER"));
  fx_global_init();
  if (strcmp(group, "loop") == 0)
    rc = cmocka_run_group_tests_name("async-loop", loop, fx_group_setup,
                                     fx_group_teardown);
  else if (strcmp(group, "limits") == 0)
    rc = cmocka_run_group_tests_name("async-limits", limits, fx_group_setup,
                                     fx_group_teardown);
  else if (strcmp(group, "scale") == 0)
    rc = cmocka_run_group_tests_name("async-scale", scale, fx_group_setup,
                                     fx_group_teardown);
  else {
    fprintf(stderr, "usage: %s loop|limits|scale\n", argv[0]);
    rc = 2;
  }
  fx_global_cleanup();
  return rc;
}
