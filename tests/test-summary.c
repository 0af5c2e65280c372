/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/machine.h"
#include "fetchbench/run.h"
#include "fetchbench/summary.h"
#include "fetchbench/urlset.h"

#define MS FB_NS_PER_MS

static void near(double got, double want, double tol) {
  if (fabs(got - want) > tol)
    fail_msg("got %.9g, want %.9g (+- %g)", got, want, tol);
}

static struct fb_result result(size_t index, enum fb_outcome outcome,
                               int64_t start_ms, int64_t ttfb_ms,
                               int64_t total_ms) {
  struct fb_result r;

  memset(&r, 0, sizeof(r));
  r.index = (uint32_t)index;
  r.outcome = (uint16_t)outcome;
  r.t_start = start_ms * MS;
  r.t_connected = r.t_start;
  r.t_first_byte = ttfb_ms < 0 ? -1 : r.t_start + ttfb_ms * MS;
  r.t_done = r.t_start + total_ms * MS;
  return r;
}

/* Usage samples 0.25 s apart with known CPU and context switches. */
static void usage_pair(struct fb_usage *b, struct fb_usage *e) {
  memset(b, 0, sizeof(*b));
  memset(e, 0, sizeof(*e));
  b->t_ns = 1000 * FB_NS_PER_S;
  e->t_ns = b->t_ns + 250 * MS;
  b->self.ru_utime = (struct timeval){10, 0};
  e->self.ru_utime = (struct timeval){10, 30000};
  b->self.ru_stime = (struct timeval){5, 500000};
  e->self.ru_stime = (struct timeval){5, 520000};
  b->children.ru_utime = (struct timeval){1, 0};
  e->children.ru_utime = (struct timeval){1, 5000};
  b->children.ru_stime = (struct timeval){2, 0};
  e->children.ru_stime = (struct timeval){2, 1000};
  b->self.ru_nvcsw = 100;
  e->self.ru_nvcsw = 130;
  b->children.ru_nvcsw = 7;
  e->children.ru_nvcsw = 9;
  b->self.ru_nivcsw = 3;
  e->self.ru_nivcsw = 4;
  e->self.ru_maxrss = 1;
}

static void test_counts_and_figures(void **state) {
  struct fb_collector *c = NULL;
  struct fb_usage b, e;
  struct fb_summary s;
  struct fb_result r;

  (void)state;
  assert_int_equal(fb_collector_create(&c, 10), 0);
  /* 0..5 ok with 1000 bytes, totals 10..60 ms, ttfb 5 ms; 1 and 3 reused. */
  for (size_t i = 0; i < 6; i++) {
    r = result(i, FB_OUTCOME_OK, (int64_t)i, 5, 10 * (int64_t)(i + 1));
    r.body_bytes = 1000;
    r.reused = i == 1 || i == 3;
    assert_int_equal(fb_collector_put(c, &r), 0);
  }
  /* 6: 404 with a body; 7: timeout, no first byte; 8 missing; 9 connect. */
  r = result(6, FB_OUTCOME_HTTP, 0, 2, 70);
  r.http_status = 404;
  r.body_bytes = 500;
  assert_int_equal(fb_collector_put(c, &r), 0);
  r = result(7, FB_OUTCOME_TIMEOUT, 0, -1, 1000);
  assert_int_equal(fb_collector_put(c, &r), 0);
  r = result(9, FB_OUTCOME_CONNECT, 0, -1, 80);
  assert_int_equal(fb_collector_put(c, &r), 0);
  /* A refused second result is counted. */
  assert_int_equal(fb_collector_put(c, &r), FB_EDUPLICATE);
  fb_collector_stats(c)->setup_ns = 12 * MS;

  usage_pair(&b, &e);
  assert_int_equal(fb_summary_compute(&s, c, "threads", 4, &b, &e, 70), 0);
  assert_string_equal(s.engine, "threads");
  assert_int_equal(s.workers, 4);
  assert_int_equal(s.urls, 10);
  assert_int_equal(s.ok, 6);
  assert_int_equal(s.errors, 4);
  assert_int_equal(s.outcomes[FB_OUTCOME_OK], 6);
  assert_int_equal(s.outcomes[FB_OUTCOME_HTTP], 1);
  assert_int_equal(s.outcomes[FB_OUTCOME_TIMEOUT], 1);
  assert_int_equal(s.outcomes[FB_OUTCOME_CONNECT], 1);
  assert_int_equal(s.missing, 1);
  assert_int_equal(s.duplicates, 1);
  assert_int_equal(s.reused, 2);
  assert_int_equal(s.bytes, 6500);

  near(s.wall_s, 0.25, 1e-12);
  near(s.setup_s, 0.012, 1e-12);
  near(s.cpu_user_s, 0.030 + 0.005, 1e-9);
  near(s.cpu_sys_s, 0.020 + 0.001, 1e-9);
  near(s.child_user_s, 0.005, 1e-9);
  near(s.child_sys_s, 0.001, 1e-9);
  /* Nine ran to an end (one result is missing): rates count those. */
  assert_int_equal(s.done, 9);
  near(s.cpu_per_req_ms, (0.035 + 0.021) * 1000 / 9, 1e-9);
  assert_int_equal(s.vcsw, 32);
  assert_int_equal(s.ivcsw, 1);
  assert_true(s.max_rss_kib > 0);
  near(s.req_per_s, 36, 1e-9);
  near(s.bytes_per_s, 26000, 1e-6);

  /* 9 latencies: 10 20 30 40 50 60 70 80 1000 ms. */
  near(s.latency.p50, 50, 50 * 0.01);
  near(s.latency.p90, 1000, 1000 * 0.01);
  near(s.latency.max, 1000, 1e-9);
  /* TTFB only where a first byte came: six 5 ms and one 2 ms. */
  near(s.ttfb.p50, 5, 0.05);
  near(s.ttfb.max, 5, 1e-9);

  /* 9 done, 4 workers, 70 ms: 3 rounds, 0.21 s. */
  near(s.delay_ms, 70, 0);
  near(s.ideal_s, 0.21, 1e-12);
  near(s.efficiency, 0.21 / 0.25, 1e-12);

  /* Unknown delay: no ideal, no efficiency. */
  assert_int_equal(fb_summary_compute(&s, c, "threads", 4, &b, &e, -1), 0);
  assert_true(s.delay_ms < 0 && s.ideal_s < 0 && s.efficiency < 0);
  fb_collector_destroy(c);
}

static void test_children_and_rss(void **state) {
  struct fb_collector *c = NULL;
  struct fb_usage b, e;
  struct fb_summary s;

  (void)state;
  assert_int_equal(fb_collector_create(&c, 3), 0);
  assert_int_equal(fb_collector_fill(c, FB_OUTCOME_NOT_RUN, "aborted"), 3);
  /* A child bigger than this process sets the peak. */
  fb_collector_stats(c)->child_max_rss_kib = 50L << 20;
  usage_pair(&b, &e);
  assert_int_equal(fb_summary_compute(&s, c, "processes", 2, &b, &e, 100), 0);
  assert_int_equal(s.max_rss_kib, 50L << 20);
  assert_int_equal(s.ok, 0);
  assert_int_equal(s.errors, 3);
  assert_int_equal(s.outcomes[FB_OUTCOME_NOT_RUN], 3);
  /* No timings at all: percentiles are zero, not garbage. */
  near(s.latency.p50, 0, 0);
  near(s.ttfb.max, 0, 0);
  /* Nothing ran: no rate, no CPU per request, no ideal. */
  assert_int_equal(s.done, 0);
  near(s.req_per_s, 0, 0);
  assert_true(s.cpu_per_req_ms < 0);
  assert_true(s.ideal_s < 0 && s.efficiency < 0);
  fb_collector_destroy(c);
}

/* A run cut short after 6 of 100 pages (issue 11: it reported 80.9 req/s
 * and an efficiency of 16.17): rates, CPU per request and the ideal describe
 * the 6 that ran, not the 94 cancelled or never started.
 */
static void test_cut_short(void **state) {
  struct fb_collector *c = NULL;
  struct fb_usage b, e;
  struct fb_summary s;
  struct fb_result r;

  (void)state;
  assert_int_equal(fb_collector_create(&c, 100), 0);
  for (size_t i = 0; i < 6; i++) {
    r = result(i, FB_OUTCOME_OK, 0, 100, 110);
    assert_int_equal(fb_collector_put(c, &r), 0);
  }
  for (size_t i = 6; i < 10; i++) {
    r = result(i, FB_OUTCOME_CANCELLED, 0, -1, 200);
    assert_int_equal(fb_collector_put(c, &r), 0);
  }
  assert_int_equal(fb_collector_fill(c, FB_OUTCOME_NOT_RUN, "stopped"), 90);
  fb_collector_stats(c)->workers_max = 4;
  usage_pair(&b, &e); /* 0.25 s of wall, 0.056 s of CPU */
  assert_int_equal(fb_summary_compute(&s, c, "threads", 4, &b, &e, 100), 0);
  assert_int_equal(s.done, 6);
  near(s.req_per_s, 6 / 0.25, 1e-9);
  near(s.cpu_per_req_ms, 56.0 / 6, 1e-9);
  /* ceil(6 / 4) = 2 rounds of 100 ms against 0.25 s. */
  near(s.ideal_s, 0.2, 1e-12);
  near(s.efficiency, 0.8, 1e-12);
  assert_true(s.efficiency <= 1);
  fb_collector_destroy(c);
}

/* A delay that cannot have been the server's (the run beat its ideal) gives
 * no efficiency but says so; a delay of 0 gives no ideal at all; a pool that
 * could not grow is counted at the size it reached.
 */
static void test_ideal_limits(void **state) {
  struct fb_collector *c = NULL;
  struct fb_usage b, e;
  struct fb_summary s;
  struct fb_result r;

  (void)state;
  assert_int_equal(fb_collector_create(&c, 40), 0);
  for (size_t i = 0; i < 40; i++) {
    r = result(i, FB_OUTCOME_OK, 0, 1, 2);
    assert_int_equal(fb_collector_put(c, &r), 0);
  }
  usage_pair(&b, &e); /* 0.25 s */
  /* 40 URLs, 8 workers, 50 ms: 5 rounds, 0.25 s: exactly the ideal. */
  assert_int_equal(fb_summary_compute(&s, c, "async", 8, &b, &e, 50), 0);
  near(s.efficiency, 1, 1e-12);
  assert_false(s.delay_mismatch);
  /* 100 ms would be 0.5 s of ideal in 0.25 s of wall: not the server's. */
  assert_int_equal(fb_summary_compute(&s, c, "async", 8, &b, &e, 100), 0);
  assert_true(s.efficiency < 0);
  assert_true(s.delay_mismatch);
  near(s.delay_ms, 100, 0);
  /* A delay of 0: known, but no ideal to compare with. */
  assert_int_equal(fb_summary_compute(&s, c, "async", 8, &b, &e, 0), 0);
  near(s.delay_ms, 0, 0);
  assert_true(s.ideal_s < 0 && s.efficiency < 0);
  assert_false(s.delay_mismatch);
  /* Only 2 of 8 workers started: the ideal is that of 2, 20 rounds. */
  fb_collector_stats(c)->workers_max = 2;
  fb_collector_stats(c)->workers_err = -EMFILE;
  assert_int_equal(fb_summary_compute(&s, c, "processes", 8, &b, &e, 10), 0);
  assert_int_equal(s.workers, 8);
  assert_int_equal(s.workers_ran, 2);
  assert_int_equal(s.workers_err, -EMFILE);
  near(s.ideal_s, 0.2, 1e-12);
  near(s.efficiency, 0.8, 1e-12);
  fb_collector_destroy(c);
}

static void test_usage_real(void **state) {
  struct fb_usage b, e;
  volatile double x = 0;
  pid_t pid;
  int status;

  (void)state;
  fb_usage_begin(&b);
  /* Some CPU here and in a reaped child. */
  for (int i = 0; i < 20000000; i++)
    x += i * 0.5;
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    for (int i = 0; i < 20000000; i++)
      x += i * 0.5;
    _exit(0);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  fb_usage_sample(&e);
  assert_true(e.t_ns > b.t_ns);
  assert_true(e.self.ru_utime.tv_sec * 1000000L + e.self.ru_utime.tv_usec >
              b.self.ru_utime.tv_sec * 1000000L + b.self.ru_utime.tv_usec);
  assert_true(
      e.children.ru_utime.tv_sec * 1000000L + e.children.ru_utime.tv_usec >
      b.children.ru_utime.tv_sec * 1000000L + b.children.ru_utime.tv_usec);
}

static void test_peak_reset(void **state) {
  size_t big = 128u << 20;
  struct fb_collector *c = NULL;
  struct fb_usage b, e;
  struct fb_summary s;
  char *p;
  int fd = open("/proc/self/clear_refs", O_WRONLY);

  (void)state;
  if (fd < 0)
    skip(); /* no way to reset the peak here */
  close(fd);
  /* A peak of 128 MiB before the run is not the run's. */
  p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
           0);
  assert_true(p != MAP_FAILED);
  memset(p, 1, big);
  munmap(p, big);
  assert_int_equal(fb_collector_create(&c, 1), 0);
  fb_usage_begin(&b);
  fb_usage_sample(&e);
  assert_int_equal(fb_summary_compute(&s, c, "x", 1, &b, &e, -1), 0);
  assert_true(s.max_rss_kib > 0);
  if (s.max_rss_kib >= (long)(big >> 10))
    fail_msg("peak %ld KiB includes the earlier 128 MiB", s.max_rss_kib);
  fb_collector_destroy(c);
}

/* The core's RSS reader: this process's figures are sane, its RSS grows
 * when a buffer is touched and falls when it is unmapped, the peak follows;
 * another process by pid; a zombie has no figures and a process that does
 * not exist is said so.
 */
static void test_proc_rss(void **state) {
  const long big_kib = 64L << 10;
  long rss, peak, touched, peak2, after;
  siginfo_t info;
  char *p;
  pid_t pid;

  (void)state;
  assert_int_equal(fb_proc_rss_kib(0, &rss, &peak), 0);
  assert_true(rss > 0);
  assert_true(peak >= rss);
  p = mmap(NULL, (size_t)big_kib << 10, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  memset(p, 1, (size_t)big_kib << 10);
  assert_int_equal(fb_proc_rss_kib(getpid(), &touched, &peak2), 0);
  if (touched < rss + big_kib * 3 / 4)
    fail_msg("RSS %ld KiB after touching %ld KiB, %ld KiB before", touched,
             big_kib, rss);
  assert_true(peak2 >= touched);
  munmap(p, (size_t)big_kib << 10);
  assert_int_equal(fb_proc_rss_kib(0, &after, NULL), 0);
  if (after > touched - big_kib / 2)
    fail_msg("RSS %ld KiB after unmapping %ld KiB, %ld KiB before", after,
             big_kib, touched);
  /* The peak remembers the buffer (the kernel's mark may trail the RSS
   * read above by a few pages).
   */
  assert_int_equal(fb_proc_rss_kib(0, NULL, &peak), 0);
  if (peak < rss + big_kib * 3 / 4)
    fail_msg("peak %ld KiB after unmapping %ld KiB, RSS %ld KiB before", peak,
             big_kib, rss);

  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(0);
  /* Exited, not yet reaped: a zombie, which has no memory. */
  assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
  assert_int_equal(fb_proc_rss_kib(pid, &rss, &peak), -ENODATA);
  assert_int_equal(rss, -1);
  assert_int_equal(peak, -1);
  assert_int_equal(waitpid(pid, NULL, 0), pid);
  /* Above any pid_max Linux allows. */
  assert_int_equal(fb_proc_rss_kib((pid_t)INT_MAX, &rss, NULL), -ENOENT);
  assert_int_equal(rss, -1);
}

/* A fake engine for fb_run_measure: delivers one result per URL except
 * where told otherwise.
 */
static int fake_mode;

static int fake_run(const struct fb_job *job, struct fb_collector *c) {
  size_t n = fb_urlset_count(job->urls);

  for (size_t i = 0; i < n; i++) {
    struct fb_result r;
    memset(&r, 0, sizeof(r));
    r.index = (uint32_t)i;
    r.outcome = FB_OUTCOME_OK;
    r.t_start = fb_clock_ns() - fb_collector_t0(c);
    r.t_first_byte = r.t_done = r.t_connected = r.t_start + 1000;
    if (fake_mode == 1 && i == 1)
      continue; /* lose one */
    fb_collector_put(c, &r);
    if (fake_mode == 2 && i == 0)
      fb_collector_put(c, &r); /* deliver one twice */
  }
  fb_collector_stats(c)->setup_ns = 1000;
  return fake_mode == 3 ? FB_ECANCELED : 0;
}

static const struct fb_engine fake = {"fake", "test engine", 4, fake_run, NULL};

static void test_run_measure(void **state) {
  struct fb_urlset *urls = NULL;
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;

  (void)state;
  assert_int_equal(fb_urlset_create(&urls), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(fb_urlset_add(urls, "http://127.0.0.1/x", 18, NULL, 0), 0);
  fb_job_init(&job);
  job.urls = urls;

  job.workers = 5;
  assert_int_equal(fb_run_measure(&fake, &job, -1, &s, &c), FB_ERANGE);
  assert_null(c);
  job.workers = 0;
  assert_int_equal(fb_run_measure(&fake, &job, -1, &s, NULL), FB_ERANGE);

  job.workers = 2;
  fake_mode = 0;
  assert_int_equal(fb_run_measure(&fake, &job, 10, &s, &c), 0);
  assert_non_null(c);
  assert_int_equal(s.urls, 3);
  assert_int_equal(s.ok, 3);
  assert_string_equal(s.engine, "fake");
  assert_int_equal(s.workers, 2);
  near(s.ideal_s, 0.02, 1e-12);
  assert_true(s.wall_s > 0);
  near(s.setup_s, 1e-6, 1e-12);
  fb_collector_destroy(c);

  fake_mode = 1;
  assert_int_equal(fb_run_measure(&fake, &job, -1, &s, &c), FB_ELOST);
  assert_int_equal(s.missing, 1);
  assert_int_equal(fb_collector_missing(c), 1);
  fb_collector_destroy(c);

  fake_mode = 2;
  assert_int_equal(fb_run_measure(&fake, &job, -1, &s, NULL), FB_EDUPLICATE);
  assert_int_equal(s.duplicates, 1);

  /* The engine's own error wins, and the summary is still filled. */
  fake_mode = 3;
  assert_int_equal(fb_run_measure(&fake, &job, -1, &s, NULL), FB_ECANCELED);
  assert_int_equal(s.ok, 3);
  fb_urlset_destroy(urls);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_and_figures),
      cmocka_unit_test(test_children_and_rss),
      cmocka_unit_test(test_cut_short),
      cmocka_unit_test(test_ideal_limits),
      cmocka_unit_test(test_usage_real),
      cmocka_unit_test(test_peak_reset),
      cmocka_unit_test(test_proc_rss),
      cmocka_unit_test(test_run_measure),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
