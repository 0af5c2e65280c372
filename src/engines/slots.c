/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/engine_int.h"
#include "engines/slots.h"
#include "fetchbench/clock.h"
#include "fetchbench/error.h"
#include "fetchbench/urlset.h"

int fb__slots_fail(struct fb__slots *p, int err, const char *fmt, ...) {
  va_list ap;

  if (p->err == 0) {
    p->err = err;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof(p->why), fmt, ap);
    va_end(ap);
  }
  p->ops->stop(p);
  return err;
}

int fb__slots_init(struct fb__slots *p, const struct fb__slots_ops *ops,
                   const char *engine, unsigned machinery_fds, size_t stride,
                   const struct fb_job *job, struct fb_collector *c,
                   struct fb__loop_counters *k) {
  char err[FB_MESSAGE_MAX];
  int rc;

  p->ops = ops;
  p->engine = engine;
  p->job = job;
  p->c = c;
  p->k = k;
  p->stride = stride;
  p->n = fb_urlset_count(job->urls);
  p->nslots = job->workers < p->n ? job->workers : (unsigned)p->n;
  p->budget = FB__SLOTS_BURST;

  rc = fb__engine_check_fds(engine, machinery_fds + 1,
                            machinery_fds + p->nslots, err, sizeof(err));
  if (rc != 0)
    return fb__slots_fail(p, rc, "%s", err);
  rc = fb_client_create(&p->cl, job, fb_collector_t0(c), err, sizeof(err));
  if (rc != 0)
    return fb__slots_fail(p, rc, "%s", err);
  p->mem = aligned_alloc(64, (size_t)p->nslots * stride);
  if (p->mem == NULL)
    return fb__slots_fail(p, -ENOMEM, "out of memory");
  memset(p->mem, 0, (size_t)p->nslots * stride);
  for (unsigned i = p->nslots; i-- > 0;) {
    struct fb__slot *s = fb__slots_at(p, i);

    fb_client_conn_init(&s->cc, p->cl, i);
    s->p = p;
    s->next_free = p->free;
    p->free = s;
  }
  return 0;
}

int fb__slots_finished(const struct fb__slots *p) {
  return p->next == p->n && p->in_flight == 0;
}

/* Whether any URL is left to start. */
static int next_ready(const struct fb__slots *p) {
  return p->next < p->n;
}

/* The gate of the next URL: in a closed loop, always open; in an open
 * loop, open once the URL is due, and until then the engine's alarm is set
 * for it.
 */
static int next_due(struct fb__slots *p) {
  int64_t at;
  int err;

  if (p->job->schedule == NULL)
    return 1;
  at = fb__engine_due_at(p->job, fb_collector_t0(p->c), p->next);
  if (at <= fb_clock_ns())
    return 1;
  err = p->ops->refill_at(p, at);
  if (err != 0)
    fb__slots_fail(p, err, "the arrival schedule's alarm: %s", strerror(-err));
  return 0;
}

void fb__slots_refill(struct fb__slots *p) {
  while (p->free != NULL && next_ready(p)) {
    struct fb__slot *s = p->free;
    size_t index;

    if (p->budget == 0) {
      p->ops->refill_next(p);
      break;
    }
    if (fb_job_cancelled(p->job)) {
      p->cancelled = 1;
      p->ops->stop(p);
      return;
    }
    if (!next_due(p))
      break;
    p->free = s->next_free;
    s->busy = 1;
    p->in_flight++;
    p->budget--;
    index = p->next++;
    if (p->in_flight > p->k->max_in_flight)
      p->k->max_in_flight = p->in_flight;
    FB__TEST_BEFORE_REQUEST(index);
    fb_client_start(&s->cc, index, fb_clock_ns());
    fb__slots_drive(s);
  }
  /* Every URL has started: the idle slots' connections are closed now,
   * while the last transfers run (those close theirs as they end).
   */
  if (!next_ready(p) && !p->last_lap) {
    p->last_lap = 1;
    for (struct fb__slot *s = p->free; s != NULL; s = s->next_free) {
      fb_client_release(&s->cc);
      fb__slots_drive(s);
    }
  }
  if (fb__slots_finished(p))
    p->ops->stop(p);
}

void fb__slots_burst(struct fb__slots *p) {
  if (p->err != 0 || p->cancelled)
    return;
  p->k->refills++;
  p->budget = FB__SLOTS_BURST;
  fb__slots_refill(p);
}

void fb__slots_done(struct fb__slots *p, struct fb__slot *s) {
  struct fb_result res;

  fb_client_result(&s->cc, &res);
  /* A refused put is counted by the collector and fails the run's check;
   * -ENOMEM only drops the message copy.
   */
  (void)fb_collector_put(p->c, &res);
  s->busy = 0;
  s->next_free = p->free;
  p->free = s;
  p->in_flight--;
  /* Every URL has started: a connection coming free is never used again.
   * Closed now, while other transfers still wait for their answers, not
   * all at once after the last one.
   */
  if (!next_ready(p))
    fb_client_release(&s->cc);
  if (fb__slots_finished(p))
    p->ops->stop(p);
  else if (next_ready(p) && !p->cancelled)
    p->ops->refill_soon(p);
}

void fb__slots_drive(struct fb__slot *s) {
  const struct fb__slots_ops *ops = s->p->ops;
  struct fb_client_action act;

  for (;;) {
    switch (fb_client_next(&s->cc, &act)) {
    case FB_CLIENT_WAIT:
      ops->wait(s);
      return;
    case FB_CLIENT_CLOSE:
      ops->close(s);
      break;
    case FB_CLIENT_CONNECT:
      ops->connect(s, act.addr, act.addrlen);
      break;
    case FB_CLIENT_SEND:
      ops->send(s, &act);
      break;
    case FB_CLIENT_DONE:
      fb__slots_done(s->p, s);
      break;
    }
  }
}

void fb__slots_watch(struct fb__slots *p) {
  if (fb_job_cancelled(p->job)) {
    p->cancelled = 1;
    p->ops->stop(p);
  }
}

/* Accounts for the transfers still in flight when the loop stopped early:
 * each ends as cancelled (or lost, when the machinery broke), its
 * connection closed.
 */
static void abandon(struct fb__slots *p) {
  const char *why = p->err != 0
                        ? (p->why[0] != '\0' ? p->why : fb_strerror(p->err))
                        : "run cancelled";

  for (unsigned i = 0; p->mem != NULL && i < p->nslots; i++) {
    struct fb__slot *s = fb__slots_at(p, i);

    if (!s->busy)
      continue;
    fb_client_abort(&s->cc,
                    p->err != 0 ? FB_OUTCOME_LOST : FB_OUTCOME_CANCELLED, why,
                    fb_clock_ns());
    fb__slots_drive(s);
  }
}

int fb__slots_end(struct fb__slots *p) {
  int err;

  if (p->err == 0 && !fb__slots_finished(p) && fb_job_cancelled(p->job))
    p->cancelled = 1;
  if (!fb__slots_finished(p) || p->err != 0)
    abandon(p);
  err = fb__engine_finish(p->job, p->c,
                          p->err != 0    ? p->err
                          : p->cancelled ? FB_ECANCELED
                                         : 0,
                          p->why);
  p->k->closes_in_run = p->k->closes;
  if (p->cl != NULL) {
    const struct fb_client_counters *ck = fb_client_counters(p->cl);

    p->k->connects = ck->connects;
    p->k->reuses = ck->reuses;
    p->k->retries = ck->retries;
    p->k->redirects = ck->redirects;
    p->k->idle_closes = ck->idle_closes;
    p->k->dns_lookups = fb_client_dns_lookups(p->cl);
  }
  return err;
}

void fb__slots_cleanup(struct fb__slots *p) {
  for (unsigned i = 0; p->mem != NULL && i < p->nslots; i++)
    fb_client_conn_cleanup(&fb__slots_at(p, i)->cc);
  free(p->mem);
  p->mem = NULL;
  fb_client_destroy(p->cl);
  p->cl = NULL;
}

int fb__slots_begin(const struct fb__slots_engine *e, const struct fb_job *job,
                    struct fb_collector *c, struct fb__slots **out) {
  struct fb_engine_stats *stats = fb_collector_stats(c);
  int64_t t = fb_clock_ns();
  struct fb__slots *p;

  *out = NULL;
  if (job->workers < 1 || job->workers > e->max_workers)
    return fb__engine_finish(job, c, FB_ERANGE, NULL);
  p = calloc(1, e->size);
  if (p == NULL)
    return fb__engine_finish(job, c, -ENOMEM, NULL);
  *out = p;
  if (e->setup(p, job, c) != 0) {
    stats->setup_ns = fb_clock_ns() - t;
    return 0;
  }
  stats->setup_ns = fb_clock_ns() - t;
  stats->workers_started = p->nslots;
  stats->workers_max = p->nslots;
  fb__slots_refill(p);
  return fb__slots_running(p);
}

int fb__slots_running(const struct fb__slots *p) {
  return p->err == 0 && !p->cancelled && !fb__slots_finished(p);
}

int fb__slots_finish(const struct fb__slots_engine *e, struct fb__slots *p) {
  int err = fb__slots_end(p);
  int terr = e->teardown(p);

  if (!p->kept)
    free(p);
  return err != 0 ? err : terr;
}
