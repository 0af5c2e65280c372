/* SPDX-License-Identifier: MIT */
/* The processes engine when workers die: killed, crashed, exiting early,
 * writing a cut or garbled record, dying in a loop; when the run is cancelled;
 * and when its parent dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines-fixture.h"
#include "engines/testhooks.h"

static const struct fb_engine *engine;

enum death { DIE_KILL, DIE_SEGV, DIE_EXIT3, DIE_STOP, DIE_WEDGE, DIE_NONE };

/* The before_request hook's orders, read in the worker (a fork of the test,
 * so it sees this as it was when the run started).
 */
struct orders {
  size_t index; /* the request to die on */
  int every;    /* die on every request */
  enum death how;
  int pid_fd; /* when >= 0, each worker writes its pid here */
};

static void before_request(size_t index, void *arg) {
  const struct orders *o = arg;
  pid_t pid = getpid();

  if (o->pid_fd >= 0 && write(o->pid_fd, &pid, sizeof(pid)) < 0)
    _exit(99);
  if (!o->every && index != o->index)
    return;
  switch (o->how) {
  case DIE_KILL:
    raise(SIGKILL);
    break;
  case DIE_SEGV:
    /* Sanitizers catch SIGSEGV; the default action is what is tested. */
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    break;
  case DIE_EXIT3:
    _exit(3);
  case DIE_STOP:
    raise(SIGSTOP);
    break;
  case DIE_WEDGE:
    /* Busy and deaf: SIGTERM ignored, never back to its pipe. */
    signal(SIGTERM, SIG_IGN);
    for (;;)
      pause();
  case DIE_NONE:
    break;
  }
}

static void job_for(struct fb_job *job, struct fb_urlset *u, unsigned workers,
                    struct orders *o) {
  fb_job_init(job);
  job->urls = u;
  job->workers = workers;
  fb__test_hooks.before_request = before_request;
  fb__test_hooks.arg = o;
}

/* Every URL but index `lost` is ok; `lost` is lost with want in its message
 * and code as its error code.
 */
static void check_one_lost(struct fb_collector *c, struct fb_urlset *u,
                           size_t lost, const char *want, int code) {
  for (size_t i = 0; i < fb_urlset_count(u); i++) {
    const struct fb_result *r = fb_collector_get(c, i);

    assert_non_null(r);
    if (i != lost) {
      const struct fb_page *pg = fx_page_of(&fx_synthetic, fb_urlset_get(u, i));
      if (r->outcome != FB_OUTCOME_OK)
        fail_msg("%zu: %s: %s", i, fb_outcome_name(r->outcome),
                 r->message != NULL ? r->message : "");
      assert_int_equal(r->checksum, pg->xxh3);
      continue;
    }
    assert_int_equal(r->outcome, FB_OUTCOME_LOST);
    assert_non_null(r->message);
    if (strstr(r->message, want) == NULL)
      fail_msg("message \"%s\" lacks \"%s\"", r->message, want);
    assert_true(strstr(r->message, "worker ") == r->message);
    if (code >= 0)
      assert_int_equal(r->error_code, code);
  }
}

/* Two workers, one death at index lost; the six URLs after it are slow, so
 * that however slowly the death is noticed (valgrind), work is left for the
 * replacement.
 */
static void one_death(enum death how, size_t lost, const char *want, int code,
                      unsigned chunk) {
  struct fb_urlset *u = fx_urls_pages(&fx_synthetic, 0, lost + 1, NULL);
  struct orders o = {lost, 0, how, -1};
  const struct fb_engine_stats *st;
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;

  fx_urls_add_pages(u, &fx_synthetic, lost + 1, 6, "?delay=100");
  job_for(&job, u, 2, &o);
  job.chunk = chunk;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), 0);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  check_one_lost(c, u, lost, want, code);
  st = fb_collector_stats_const(c);
  assert_int_equal(st->workers_lost, 1);
  assert_int_equal(st->workers_started, 3); /* two, and one respawned */
  assert_int_equal(st->chunk, chunk);
  assert_true(st->child_max_rss_kib > 0);
  assert_int_equal(s.outcomes[FB_OUTCOME_LOST], 1);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

static void test_sigkill(void **state) {
  (void)state;
  one_death(DIE_KILL, 4, "killed by signal 9 (Killed)", 9, 1);
}

static void test_sigsegv(void **state) {
  (void)state;
  one_death(DIE_SEGV, 0, "killed by signal 11 (Segmentation fault)", 11, 1);
}

static void test_exit(void **state) {
  (void)state;
  one_death(DIE_EXIT3, 3, "exited with status 3", 3, 1);
}

/* A worker that stops answering (SIGSTOP, or wedged) while it holds a
 * request: the parent gives each request its timeout plus a grace, then
 * kills and replaces the worker, and the request ends as a timeout saying
 * why, in bounded time (issue 11: the run hung for ever).
 */
static void hung_worker(enum death how) {
  struct fb_urlset *u = fx_urls_pages(&fx_synthetic, 0, 8, NULL);
  struct orders o = {2, 0, how, -1};
  const struct fb_engine_stats *st;
  struct fb_collector *c = NULL;
  const struct fb_result *r;
  struct fb_summary s;
  struct fb_job job;
  double t0 = fx_now();

  job_for(&job, u, 2, &o);
  job.timeout_ms = 300;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), 0);
  /* 0.3 s of timeout and 2 s of grace; the rest takes milliseconds. */
  assert_true(fx_now() - t0 < 10);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  for (size_t i = 0; i < fb_urlset_count(u); i++) {
    r = fb_collector_get(c, i);
    if (i != 2) {
      assert_int_equal(r->outcome, FB_OUTCOME_OK);
      continue;
    }
    assert_int_equal(r->outcome, FB_OUTCOME_TIMEOUT);
    assert_non_null(r->message);
    if (strstr(r->message, "stopped answering") == NULL)
      fail_msg("message \"%s\"", r->message);
  }
  /* The other worker did the rest meanwhile: no replacement was needed. */
  st = fb_collector_stats_const(c);
  assert_int_equal(st->workers_lost, 1);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

static void test_stopped(void **state) {
  (void)state;
  hung_worker(DIE_STOP);
}

static void test_wedged(void **state) {
  (void)state;
  hung_worker(DIE_WEDGE);
}

/* A chunk of three: the one in flight is lost, the rest of its chunk is
 * given to another worker and succeeds.
 */
static void test_chunk(void **state) {
  (void)state;
  one_death(DIE_KILL, 4, "killed by signal 9", 9, 3);
}

/* --- Records cut short or garbled --------------------------------------- */

enum record_fault { REC_HALF_EXIT, REC_HALF_GO_ON, REC_GARBLED };
static enum record_fault record_fault;
static size_t record_index;

static void result_hook(int fd, const void *record, size_t len, size_t index) {
  unsigned char copy[PIPE_BUF];

  if (index != record_index) {
    if (write(fd, record, len) != (ssize_t)len)
      _exit(98);
    return;
  }
  switch (record_fault) {
  case REC_HALF_EXIT:
    if (write(fd, record, len / 2) < 0)
      _exit(98);
    _exit(0);
  case REC_HALF_GO_ON:
    if (write(fd, record, len / 2) < 0)
      _exit(98);
    return;
  case REC_GARBLED:
    memcpy(copy, record, len);
    copy[len - 1] ^= 0x5a;
    if (write(fd, copy, len) < 0)
      _exit(98);
    return;
  }
}

static void bad_record(enum record_fault f, const char *want, int code) {
  record_fault = f;
  record_index = 3;
  fb__test_hooks.result_write = result_hook;
  one_death(DIE_NONE, 3, want, code, 1);
  fb__test_hooks.result_write = NULL;
}

static void test_partial_then_exit(void **state) {
  (void)state;
  bad_record(REC_HALF_EXIT, "sent a partial record", -1);
}

static void test_partial_then_go_on(void **state) {
  (void)state;
  bad_record(REC_HALF_GO_ON, "sent a partial record", 9);
}

static void test_garbled(void **state) {
  (void)state;
  bad_record(REC_GARBLED, "sent a malformed record", 9);
}

/* Every request kills its worker: the run ends with FB_EWORKERS after
 * max_respawns deaths (plus at most one per worker already in flight), the
 * rest not run, in bounded time.
 */
static void test_crash_loop(void **state) {
  struct fb_urlset *u = fx_urls_pages(&fx_synthetic, 0, 40, NULL);
  struct orders o = {0, 1, DIE_KILL, -1};
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;
  double t;

  (void)state;
  job_for(&job, u, 2, &o);
  job.max_respawns = 3;
  t = fx_now();
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), FB_EWORKERS);
  assert_true(fx_now() - t < 5.0);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  assert_true(s.outcomes[FB_OUTCOME_LOST] >= 4);
  assert_true(s.outcomes[FB_OUTCOME_LOST] <= 5);
  assert_int_equal(s.outcomes[FB_OUTCOME_LOST],
                   fb_collector_stats_const(c)->workers_lost);
  assert_int_equal(s.outcomes[FB_OUTCOME_LOST] + s.outcomes[FB_OUTCOME_NOT_RUN],
                   fb_urlset_count(u));
  fb_collector_destroy(c);

  /* No respawn at all: the first death ends it. */
  job.max_respawns = 0;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), FB_EWORKERS);
  assert_true(s.outcomes[FB_OUTCOME_LOST] >= 1);
  assert_true(s.outcomes[FB_OUTCOME_LOST] <= 2);
  assert_int_equal(s.outcomes[FB_OUTCOME_NOT_RUN] + s.outcomes[FB_OUTCOME_LOST],
                   fb_urlset_count(u));
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

/* --- Cancel and parent death -------------------------------------------- */

static volatile sig_atomic_t cancel_flag;
static double cancel_at;

static void on_alarm(int sig) {
  (void)sig;
  cancel_flag = 1;
}

static size_t read_pids(int fd, pid_t *pids, size_t cap) {
  size_t n = 0;
  pid_t pid;

  while (n < cap && read(fd, &pid, sizeof(pid)) == sizeof(pid)) {
    size_t k = 0;
    while (k < n && pids[k] != pid)
      k++;
    if (k == n)
      pids[n++] = pid;
  }
  return n;
}

/* Cancelled by a signal, as the CLI does it, while every worker waits on a
 * slow answer with more chunked work to come: FB_ECANCELED within a second,
 * every URL cancelled, no worker left.
 */
static void test_cancel(void **state) {
  struct fb_urlset *u = fx_urls_seed(&fx_synthetic, "?delay=3000");
  struct itimerval it = {{0, 0}, {0, 300000}};
  struct orders o = {0, 0, DIE_NONE, -1};
  struct fb_collector *c = NULL;
  struct sigaction sa;
  struct fb_summary s;
  struct fb_job job;
  pid_t pids[64];
  size_t npids;
  int fds[2];
  double t;

  (void)state;
  assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  o.pid_fd = fds[1];
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  cancel_flag = 0;
  job_for(&job, u, 4, &o);
  job.chunk = 2;
  job.cancel = &cancel_flag;
  assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
  t = fx_now();
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), FB_ECANCELED);
  cancel_at = fx_now() - t;
  assert_true(cancel_at < 0.3 + 1.0);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  assert_int_equal(s.outcomes[FB_OUTCOME_CANCELLED], fb_urlset_count(u));
  npids = read_pids(fds[0], pids, 64);
  assert_int_equal(npids, 4);
  for (size_t k = 0; k < npids; k++) {
    assert_int_equal(kill(pids[k], 0), -1);
    assert_int_equal(errno, ESRCH);
  }
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
  close(fds[0]);
  close(fds[1]);
}

/* A parent killed with SIGKILL takes its workers with it. The test adopts
 * orphans (PR_SET_CHILD_SUBREAPER) so that it can reap them and see how
 * they died.
 */
static void test_parent_death(void **state) {
  struct fb_urlset *u = fx_urls_seed(&fx_synthetic, "?delay=5000");
  struct orders o = {0, 0, DIE_NONE, -1};
  struct fb_summary s;
  struct fb_job job;
  pid_t sub, pids[8];
  size_t npids = 0;
  int fds[2], st;
  double t;

  (void)state;
  assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
  o.pid_fd = fds[1];
  job_for(&job, u, 3, &o);
  sub = fork();
  assert_true(sub >= 0);
  if (sub == 0) {
    close(fds[0]);
    fb_run_measure(engine, &job, -1, &s, NULL);
    _exit(0);
  }
  close(fds[1]);
  while (npids < 3) {
    pid_t pid;
    assert_int_equal(read(fds[0], &pid, sizeof(pid)), sizeof(pid));
    pids[npids++] = pid;
  }
  close(fds[0]);
  assert_int_equal(kill(sub, SIGKILL), 0);
  assert_int_equal(waitpid(sub, &st, 0), sub);
  t = fx_now();
  for (size_t k = 0; k < npids; k++) {
    pid_t got;
    while ((got = waitpid(pids[k], &st, WNOHANG)) == 0 && fx_now() - t < 2.0)
      poll(NULL, 0, 10);
    if (got != pids[k])
      kill(pids[k], SIGKILL);
    assert_int_equal(got, pids[k]);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  fb_urlset_destroy(u);
}

/* Children's CPU and memory are counted, not the 0.0000 s of the original. */
static void test_honesty(void **state) {
  struct fb_urlset *u = fx_urls_pages(&fx_synthetic, 0, 0, NULL);
  const struct fb_engine_stats *st;
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;

  (void)state;
  job_for(&job, u, 2, NULL);
  fb__test_hooks.before_request = NULL;
  job.chunk = 8;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), 0);
  fx_assert_all_ok(&fx_synthetic, u, c, 2);
  st = fb_collector_stats_const(c);
  assert_int_equal(st->workers_started, 2);
  assert_int_equal(st->workers_lost, 0);
  assert_int_equal(st->chunk, 8);
  assert_true(st->child_utime.tv_sec + st->child_utime.tv_usec +
                  st->child_stime.tv_sec + st->child_stime.tv_usec >
              0);
  assert_true(st->child_max_rss_kib > 0);
  assert_true(s.child_user_s + s.child_sys_s > 0);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

/* Hooks are the test build's globals: none outlives its test. */
static int clear_hooks(void **state) {
  (void)state;
  memset(&fb__test_hooks, 0, sizeof(fb__test_hooks));
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_sigkill, clear_hooks),
      cmocka_unit_test_teardown(test_sigsegv, clear_hooks),
      cmocka_unit_test_teardown(test_exit, clear_hooks),
      cmocka_unit_test_teardown(test_stopped, clear_hooks),
      cmocka_unit_test_teardown(test_wedged, clear_hooks),
      cmocka_unit_test_teardown(test_chunk, clear_hooks),
      cmocka_unit_test_teardown(test_partial_then_exit, clear_hooks),
      cmocka_unit_test_teardown(test_partial_then_go_on, clear_hooks),
      cmocka_unit_test_teardown(test_garbled, clear_hooks),
      cmocka_unit_test_teardown(test_crash_loop, clear_hooks),
      cmocka_unit_test_teardown(test_cancel, clear_hooks),
      cmocka_unit_test_teardown(test_parent_death, clear_hooks),
      cmocka_unit_test_teardown(test_honesty, clear_hooks),
  };
  int rc;

  engine = fb_engine_find("processes");
  if (engine == NULL)
    return 1;
  fx_global_init();
  rc = cmocka_run_group_tests_name("processes", tests, fx_group_setup,
                                   fx_group_teardown);
  fx_global_cleanup();
  return rc;
}
