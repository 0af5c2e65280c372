/* SPDX-License-Identifier: MIT */
/* The threads engine: more threads than URLs, the stack size it reports,
 * a stack size it must refuse, and the hook seeing each request once.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define VALGRIND_CHECK 1
#endif
#endif
#ifndef VALGRIND_CHECK
#define VALGRIND_CHECK 0
#endif

#include "engines-fixture.h"
#include "engines/testhooks.h"

static const struct fb_engine *engine;

#define NURLS 64

struct calls {
  atomic_uint count[NURLS];
  atomic_uint in_hook;
  atomic_uint most_in_hook;
};

static void count_call(size_t index, void *arg) {
  struct calls *k = arg;
  unsigned now = atomic_fetch_add(&k->in_hook, 1) + 1;
  unsigned most = atomic_load(&k->most_in_hook);

  while (now > most &&
         !atomic_compare_exchange_weak(&k->most_in_hook, &most, now))
    ;
  atomic_fetch_add(&k->count[index], 1);
  atomic_fetch_sub(&k->in_hook, 1);
}

static struct fb_collector *run(struct fb_urlset *u, unsigned workers,
                                size_t stack, int want) {
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;

  fb_job_init(&job);
  job.urls = u;
  job.workers = workers;
  job.thread_stack = stack;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), want);
  return c;
}

static void test_more_threads_than_urls(void **state) {
  struct fb_urlset *u = fx_urls_seed(&fx_synthetic, "?delay=20");
  struct fb_collector *c = run(u, 100, 256 << 10, 0);
  const struct fb_engine_stats *st = fb_collector_stats_const(c);

  (void)state;
  fx_assert_all_ok(&fx_synthetic, u, c, 100);
  assert_int_equal(st->workers_started, 100);
  assert_int_equal(st->thread_stack, 256 << 10);
  assert_true(st->setup_ns > 0);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

static void test_stack_sizes(void **state) {
  struct fb_urlset *u = fx_urls_seed(&fx_synthetic, NULL);
  struct fb_collector *c;

  (void)state;
  c = run(u, 4, 1 << 20, 0);
  assert_int_equal(fb_collector_stats_const(c)->thread_stack, 1 << 20);
  fx_assert_all_ok(&fx_synthetic, u, c, 4);
  fb_collector_destroy(c);

  /* 0 keeps the C library's default, which is reported. */
  c = run(u, 4, 0, 0);
  assert_true(fb_collector_stats_const(c)->thread_stack >=
              (uint64_t)PTHREAD_STACK_MIN);
  fx_assert_all_ok(&fx_synthetic, u, c, 4);
  fb_collector_destroy(c);

  /* Too small to run at all: refused, every URL not run. */
  c = run(u, 4, 1024, FB_ERANGE);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  for (size_t i = 0; i < fb_urlset_count(u); i++)
    assert_int_equal(fb_collector_get(c, i)->outcome, FB_OUTCOME_NOT_RUN);
  assert_int_equal(fb_collector_stats_const(c)->workers_started, 0);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

/* The hook runs once per request, in up to `workers` threads at a time. */
static void test_hook_once_each(void **state) {
  struct fb_urlset *u = fx_urls_pages(&fx_synthetic, 0, NURLS, "?delay=5");
  struct calls *k = calloc(1, sizeof(*k));
  struct fb_collector *c = NULL;
  struct fb_summary s;
  struct fb_job job;

  (void)state;
  assert_non_null(k);
  fb_job_init(&job);
  job.urls = u;
  job.workers = 8;
  fb__test_hooks.before_request = count_call;
  fb__test_hooks.arg = k;
  assert_int_equal(fb_run_measure(engine, &job, -1, &s, &c), 0);
  fb__test_hooks.before_request = NULL;
  fx_assert_all_ok(&fx_synthetic, u, c, 8);
  for (size_t i = 0; i < NURLS; i++)
    assert_int_equal(atomic_load(&k->count[i]), 1);
  assert_true(atomic_load(&k->most_in_hook) <= 8);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
  free(k);
}

/* The largest pool, on its default stack. */
static void test_max_threads(void **state) {
  struct fb_urlset *u = fx_urls_pages(&fx_synthetic, 0, NURLS, NULL);
  struct fb_collector *c = run(u, engine->max_workers, 256 << 10, 0);

  (void)state;
  fx_assert_all_ok(&fx_synthetic, u, c, engine->max_workers);
  assert_int_equal(fb_collector_stats_const(c)->workers_started,
                   engine->max_workers);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

static long vm_size_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");

  assert_non_null(f);
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

/* Threads that cannot be created: with room for three stacks of 16 MiB,
 * a pool of eight runs on the threads that did start; with room for none,
 * the run fails and every URL is not run. In a child, so that the address
 * space limit stays there.
 */
static void test_creation_fails(void **state) {
  struct fb_urlset *u = fx_urls_seed(&fx_synthetic, NULL);
  const size_t stack = 16u << 20;
  struct fb_collector *c;
  struct rlimit rl;
  pid_t pid;
  int st;

  (void)state;
  /* Sanitizers and valgrind need the address space for themselves. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  fb_urlset_destroy(u);
  skip();
#endif
#if VALGRIND_CHECK
  if (RUNNING_ON_VALGRIND) {
    fb_urlset_destroy(u);
    skip();
  }
#endif
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    const struct fb_engine_stats *es;

    rl.rlim_cur = rl.rlim_max =
        (rlim_t)vm_size_kib() * 1024 + 3 * stack + (8u << 20);
    assert_int_equal(setrlimit(RLIMIT_AS, &rl), 0);
    c = run(u, 8, stack, 0);
    fx_assert_all_ok(&fx_synthetic, u, c, 8);
    es = fb_collector_stats_const(c);
    assert_true(es->workers_started >= 1 && es->workers_started < 8);
    fb_collector_destroy(c);

    /* 1 TiB stacks: no thread at all. */
    c = run(u, 4, (size_t)1 << 40, -EAGAIN);
    assert_int_equal(fb_collector_stats_const(c)->workers_started, 0);
    for (size_t i = 0; i < fb_urlset_count(u); i++)
      assert_int_equal(fb_collector_get(c, i)->outcome, FB_OUTCOME_NOT_RUN);
    fb_collector_destroy(c);
    _exit(0);
  }
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  fb_urlset_destroy(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_more_threads_than_urls),
      cmocka_unit_test(test_stack_sizes),
      cmocka_unit_test(test_hook_once_each),
      cmocka_unit_test(test_max_threads),
      cmocka_unit_test(test_creation_fails),
  };
  int rc;

  engine = fb_engine_find("threads");
  if (engine == NULL)
    return 1;
  fx_global_init();
  rc = cmocka_run_group_tests_name("threads", tests, fx_group_setup,
                                   fx_group_teardown);
  fx_global_cleanup();
  return rc;
}
