/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/engine_int.h"
#include "engines/fetch.h"
#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/urlset.h"

/* A pool of N pthreads, each with its own easy handle, each taking the next
 * URL index from one atomic counter until none is left: a
 * ThreadPoolExecutor without the queue. Results go straight into their
 * collector slot; the slots are distinct, so no lock is taken.
 *
 * This engine relies on its caller for two process-wide things (the CLI
 * does both before any thread exists): curl_global_init, which is not
 * thread-safe, and SIGPIPE ignored, because a peer that closes a socket
 * would otherwise kill the process from any thread. fetch.c sets
 * CURLOPT_NOSIGNAL so that libcurl itself never raises or handles signals.
 */

#define THREADS_MAX 1024

struct pool {
  const struct fb_job *job;
  struct fb_collector *c;
  size_t n;
  atomic_size_t next;          /* next URL index to take */
  atomic_int error;            /* first worker set-up failure, 0 when none */
  struct fb_fetch_share share; /* TLS sessions, shared under a lock */
  char why[FB_MESSAGE_MAX];    /* ... what it was, written by that worker */
};

struct worker {
  pthread_t tid;
  unsigned id;
  struct pool *pool;
};

static void *work(void *arg) {
  struct worker *w = arg;
  struct pool *p = w->pool;
  struct fb_fetch f;
  struct fb_result r;
  CURLcode code;
  size_t i;
  int err;
  int expected = 0;

  /* The handle is made here, not by the starting thread, so that its cost
   * and memory belong to the worker as in any thread pool.
   */
  err = fb__fetch_init(&f, p->job, fb_collector_t0(p->c), w->id, &p->share);
  if (err != 0)
    goto out;
  for (;;) {
    if (fb_job_cancelled(p->job))
      break;
    i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
    if (i >= p->n)
      break;
    /* Open loop: the worker that took the next index waits for its due
     * time; the indices not taken yet are the queue. Cancelled meanwhile,
     * the index is left empty for the run's end to mark cancelled.
     */
    if (fb__engine_wait_due(p->job, fb_collector_t0(p->c), i) != 0)
      break;
    err = fb__fetch_start(&f, i);
    if (err != 0) {
      /* The index was taken: give it a result before leaving. */
      fb__fetch_finish(&f, CURLE_FAILED_INIT, &r);
      (void)fb_collector_put(p->c, &r);
      break;
    }
    code = fb__fetch_perform(&f);
    fb__fetch_finish(&f, code, &r);
    (void)fb_collector_put(p->c, &r);
  }
out:
  if (err != 0 && atomic_compare_exchange_strong(&p->error, &expected, err))
    snprintf(p->why, sizeof(p->why), "%s", f.errbuf);
  fb__fetch_cleanup(&f);
  return NULL;
}

static int run(const struct fb_job *job, struct fb_collector *c) {
  struct fb_engine_stats *stats = fb_collector_stats(c);
  struct worker *workers = NULL;
  struct pool pool;
  pthread_attr_t attr;
  size_t stack = 0;
  unsigned started = 0;
  int64_t t;
  int err;

  pool.job = job;
  pool.c = c;
  pool.why[0] = '\0';
  memset(&pool.share, 0, sizeof(pool.share));
  pool.n = fb_urlset_count(job->urls);
  atomic_init(&pool.next, 0);
  atomic_init(&pool.error, 0);

  if (job->workers < 1 || job->workers > THREADS_MAX) {
    err = FB_ERANGE;
    goto out;
  }
  workers = calloc(job->workers, sizeof(*workers));
  if (workers == NULL) {
    err = -ENOMEM;
    goto out;
  }
  err = fb__fetch_share_init(&pool.share, job, 1);
  if (err != 0)
    goto out;
  err = -pthread_attr_init(&attr);
  if (err != 0)
    goto out;
  /* glibc's default is the stack rlimit (8 MiB), reserved per thread; an
   * explicit size keeps 1024 threads affordable. 0 keeps the default.
   */
  if (job->thread_stack != 0) {
    if (job->thread_stack < (size_t)PTHREAD_STACK_MIN)
      err = FB_ERANGE;
    else
      err = -pthread_attr_setstacksize(&attr, job->thread_stack);
  }
  if (err == 0)
    err = -pthread_attr_getstacksize(&attr, &stack);
  if (err != 0) {
    pthread_attr_destroy(&attr);
    goto out;
  }
  stats->thread_stack = stack;

  t = fb_clock_ns();
  for (started = 0; started < job->workers; started++) {
    workers[started].id = started;
    workers[started].pool = &pool;
    err =
        -pthread_create(&workers[started].tid, &attr, work, &workers[started]);
    if (err != 0)
      break;
  }
  stats->setup_ns = fb_clock_ns() - t;
  stats->workers_started = started;
  stats->workers_max = started;
  if (started < job->workers)
    stats->workers_err = err;
  pthread_attr_destroy(&attr);
  /* Fewer threads than asked still finish the job; none is an error. */
  if (started > 0)
    err = 0;

  for (unsigned k = 0; k < started; k++)
    pthread_join(workers[k].tid, NULL);

  /* Workers that could not make a handle leave their share to the others;
   * it is an error of the run only when nobody fetched at all.
   */
  if (err == 0 && atomic_load(&pool.error) != 0 &&
      fb_collector_filled(c) < pool.n && !fb_job_cancelled(job))
    err = atomic_load(&pool.error);

out:
  fb__fetch_share_cleanup(&pool.share);
  free(workers);
  return fb__engine_finish(job, c, err,
                           err == atomic_load(&pool.error) ? pool.why : NULL);
}

const struct fb_engine fb_engine_threads = {
    .name = "threads",
    .summary = "a pool of pthreads, one easy handle each, sharing a counter",
    .max_workers = THREADS_MAX,
    .run = run,
};
