/* SPDX-License-Identifier: MIT */
/* Engine conformance: the same URL lists and the same assertions for every
 * engine, named by argv[1] (tests/meson.build runs it once per engine).
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines-fixture.h"

static const struct fb_engine *engine;
static struct fx_origin origin;
static struct fx_origin django; /* when the Django docs are installed */

static const unsigned worker_counts[] = {1, 2, 16};

/* Threads, children (other than the origins) and open files of this
 * process: an engine must leave none behind. ThreadSanitizer starts threads
 * and opens files of its own when it likes, so under it neither is counted.
 */
static size_t count_entries(const char *dir) {
  struct dirent *e;
  size_t n = 0;
  DIR *d;

#ifdef __SANITIZE_THREAD__
  return 0;
#endif
  d = opendir(dir);
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static size_t count_tasks(void) {
  return count_entries("/proc/self/task");
}

static size_t count_fds(void) {
  return count_entries("/proc/self/fd");
}

static size_t count_children(void) {
  char path[64], buf[4096];
  size_t n = 0;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
  f = fopen(path, "r");
  if (f == NULL)
    return 0; /* a kernel without the list: nothing to check */
  while (fscanf(f, "%4095s", buf) == 1)
    n += atol(buf) != origin.proc.pid && atol(buf) != django.proc.pid;
  fclose(f);
  return n;
}

static void check_summary(const struct fb_summary *s, const struct fb_urlset *u,
                          unsigned workers, size_t reused) {
  size_t n = fb_urlset_count(u);
  uint64_t bytes = 0;

  for (size_t i = 0; i < n; i++)
    bytes += fx_page_of(&origin, fb_urlset_get(u, i))->len;
  assert_string_equal(s->engine, engine->name);
  assert_int_equal(s->workers, workers);
  assert_int_equal(s->urls, n);
  assert_int_equal(s->ok, n);
  assert_int_equal(s->errors, 0);
  assert_int_equal(s->outcomes[FB_OUTCOME_OK], n);
  assert_int_equal(s->missing, 0);
  assert_int_equal(s->duplicates, 0);
  assert_int_equal(s->reused, reused);
  assert_int_equal(s->bytes, bytes);
  assert_true(s->wall_s > 0);
  assert_true(s->setup_s >= 0 && s->setup_s <= s->wall_s);
  assert_true(s->latency.p50 > 0);
  assert_true(s->latency.p50 <= s->latency.p90);
  assert_true(s->latency.p90 <= s->latency.p99);
  assert_true(s->latency.p99 <= s->latency.max);
  assert_true(s->ttfb.p50 > 0 && s->ttfb.p50 <= s->latency.max);
  assert_true(s->req_per_s > 0);
  assert_true(s->max_rss_kib > 0);
}

static void run_ok(const struct fx_origin *o, struct fb_urlset *u,
                   unsigned workers, enum fb_connection mode) {
  size_t n = fb_urlset_count(u);
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;
  size_t tasks = count_tasks(), fds = count_fds(), reused;
  int rc;

  fx_job_init(&job, o);
  job.urls = u;
  job.workers = workers;
  job.connection = mode;
  rc = fb_run_measure(engine, &job, -1, &s, &c);
  if (rc != 0)
    fail_msg("%s, %u workers, %s: %s", engine->name, workers,
             mode == FB_CONN_FRESH ? "fresh" : "reuse", fb_strerror(rc));
  reused = fx_assert_all_ok(o, u, c, workers);
  if (mode == FB_CONN_FRESH)
    assert_int_equal(reused, 0);
  else if (n > workers)
    /* Each request in flight needs at most one connection of its own. */
    assert_true(reused + workers >= n);
  if (o == &origin)
    check_summary(&s, u, workers, reused);
  assert_true(fb_collector_stats_const(c)->setup_ns >= 0);
  assert_int_equal(count_tasks(), tasks);
  assert_int_equal(count_fds(), fds);
  assert_int_equal(count_children(), 0);
  fb_collector_destroy(c);
}

static void whole_corpus(enum fb_connection mode) {
  struct fb_urlset *u = fx_urls_pages(&origin, 0, 0, NULL);

  assert_int_equal(fb_urlset_count(u), FB_SYNTHETIC_PAGES);
  for (size_t k = 0; k < sizeof(worker_counts) / sizeof(*worker_counts); k++)
    if (worker_counts[k] <= engine->max_workers)
      run_ok(&origin, u, worker_counts[k], mode);
  fb_urlset_destroy(u);
}

static void test_corpus_reuse(void **state) {
  (void)state;
  whole_corpus(FB_CONN_REUSE);
}

static void test_corpus_fresh(void **state) {
  (void)state;
  whole_corpus(FB_CONN_FRESH);
}

static void test_more_workers_than_urls(void **state) {
  struct fb_urlset *u = fx_urls_seed(&origin, NULL);
  unsigned workers = engine->max_workers < 24 ? engine->max_workers : 24;

  (void)state;
  if (workers <= FB_SEED_PAGE_COUNT) {
    fb_urlset_destroy(u);
    skip();
  }
  run_ok(&origin, u, workers, FB_CONN_REUSE);
  run_ok(&origin, u, workers, FB_CONN_FRESH);
  fb_urlset_destroy(u);
}

static void test_workers_range(void **state) {
  struct fb_urlset *u = fx_urls_seed(&origin, NULL);
  struct fb_summary s;
  struct fb_job job;

  (void)state;
  fx_job_init(&job, &origin);
  job.urls = u;
  job.workers = 0;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, NULL), FB_ERANGE);
  job.workers = engine->max_workers + 1;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, NULL), FB_ERANGE);
  fb_urlset_destroy(u);
}

/* A proxy named by the environment is used (libcurl's behaviour, which the
 * engines keep; they only skip the per-request lookup when none is named):
 * one that refuses connections fails every request at connect.
 */
static void test_env_proxy(void **state) {
  struct fb_urlset *u = fx_urls_seed(&origin, NULL);
  size_t n = fb_urlset_count(u);
  struct fb_summary s;
  struct fb_job job;
  char proxy[64];

  (void)state;
  /* https through a proxy is a CONNECT tunnel, which the client core of
   * raw and uring does not make (README): the http run checks the lookup.
   */
  if (fx_tls) {
    fb_urlset_destroy(u);
    skip();
  }
  snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", fx_closed_port());
  assert_int_equal(setenv("http_proxy", proxy, 1), 0);
  fx_job_init(&job, &origin);
  job.urls = u;
  job.workers = engine->max_workers < 2 ? engine->max_workers : 2;
  (void)fb_run_measure(engine, &job, -1, &s, NULL);
  unsetenv("http_proxy");
  assert_int_equal(s.urls, n);
  assert_int_equal(s.ok, 0);
  assert_int_equal(s.outcomes[FB_OUTCOME_CONNECT], n);
  assert_int_equal(s.missing, 0);
  /* And without it, straight to the origin again. */
  run_ok(&origin, u, job.workers, FB_CONN_REUSE);
  fb_urlset_destroy(u);
}

static void test_django(void **state) {
  struct fb_urlset *u;

  (void)state;
  if (django.corpus == NULL)
    skip();
  u = fx_urls_pages(&django, 0, 0, NULL);
  run_ok(&django, u, engine->max_workers < 4 ? engine->max_workers : 4,
         FB_CONN_REUSE);
  run_ok(&django, u, 1, FB_CONN_FRESH);
  fb_urlset_destroy(u);
}

struct canceller {
  volatile sig_atomic_t *flag;
  long after_ms;
  double at;
};

static void *cancel_later(void *arg) {
  struct canceller *k = arg;
  struct timespec ts = {k->after_ms / 1000, (k->after_ms % 1000) * 1000000};

  nanosleep(&ts, NULL);
  k->at = fx_now();
  __atomic_store_n(k->flag, 1, __ATOMIC_RELAXED);
  return NULL;
}

/* URLs whose answers take 5 s: a run cancelled after 300 ms must return
 * within a second of the flag, with every URL cancelled.
 */
static void test_cancel(void **state) {
  struct fb_urlset *u = fx_urls_seed(&origin, "?delay=5000");
  volatile sig_atomic_t flag = 0;
  struct canceller k = {&flag, 300, 0};
  struct fb_collector *c = NULL;
  size_t tasks = count_tasks(), fds = count_fds();
  struct fb_summary s;
  struct fb_job job;
  pthread_t t;
  double done;
  int rc;

  (void)state;
  if (fx_helper_thread_starves(engine, "test_cancel")) {
    fb_urlset_destroy(u);
    skip();
  }
  fx_job_init(&job, &origin);
  job.urls = u;
  job.workers = engine->max_workers < 4 ? engine->max_workers : 4;
  job.cancel = &flag;
  assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
  rc = fb_run_measure(engine, &job, -1, &s, &c);
  done = fx_now();
  pthread_join(t, NULL);
  assert_int_equal(rc, FB_ECANCELED);
  if (done - k.at >= 1.0)
    fail_msg("returned %.3f s after the cancel", done - k.at);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  assert_int_equal(s.outcomes[FB_OUTCOME_CANCELLED], fb_urlset_count(u));
  assert_int_equal(count_tasks(), tasks);
  assert_int_equal(count_fds(), fds);
  assert_int_equal(count_children(), 0);
  fb_collector_destroy(c);

  /* Cancelled before it starts: nothing runs, everything is cancelled. */
  rc = fb_run_measure(engine, &job, -1, &s, &c);
  assert_int_equal(rc, FB_ECANCELED);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  assert_int_equal(s.outcomes[FB_OUTCOME_CANCELLED], fb_urlset_count(u));
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

/* The origins start before any run, as the CLI's do. Then one small run,
 * so that what a library opens once per process (libuv's signal pipe, say)
 * is not counted as left behind by a later run.
 */
static int setup(void **state) {
  const char *dir = fb_corpus_default_dir();
  struct fb_urlset *u;
  struct fb_summary s;
  struct fb_job job;
  int rc;

  (void)state;
  rc = fx_origin_start(&origin, "synthetic");
  if (rc == 0 && dir != NULL)
    rc = fx_origin_start(&django, dir);
  if (rc != 0)
    return rc;
  u = fx_urls_pages(&origin, 0, 1, NULL);
  fx_job_init(&job, &origin);
  job.urls = u;
  rc = fb_run_measure(engine, &job, -1, &s, NULL);
  fb_urlset_destroy(u);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  fx_origin_stop(&origin);
  fx_origin_stop(&django);
  return 0;
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corpus_reuse),
      cmocka_unit_test(test_corpus_fresh),
      cmocka_unit_test(test_more_workers_than_urls),
      cmocka_unit_test(test_workers_range),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_env_proxy),
      cmocka_unit_test(test_django),
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
  rc = cmocka_run_group_tests_name(argv[1], tests, setup, teardown);
  fx_global_cleanup();
  return rc;
}
