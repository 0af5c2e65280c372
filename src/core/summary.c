/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/histogram.h"
#include "fetchbench/machine.h"
#include "fetchbench/summary.h"

void fb_usage_begin(struct fb_usage *u) {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

  /* "5" resets the peak RSS mark (VmHWM) to the current RSS, so the peak read
   * after the run is the run's own. Without it (not Linux, or no permission)
   * the peak is the process's lifetime peak: worth having, so ignore errors.
   */
  if (fd >= 0) {
    ssize_t w = write(fd, "5", 1);
    (void)w;
    close(fd);
  }
  getrusage(RUSAGE_SELF, &u->self);
  getrusage(RUSAGE_CHILDREN, &u->children);
  u->t_ns = fb_clock_ns();
  u->real_ns = fb_clock_real_ns();
}

void fb_usage_sample(struct fb_usage *u) {
  u->t_ns = fb_clock_ns();
  u->real_ns = fb_clock_real_ns();
  getrusage(RUSAGE_SELF, &u->self);
  getrusage(RUSAGE_CHILDREN, &u->children);
}

static double tv_s(const struct timeval *tv) {
  return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double tv_delta_s(const struct timeval *a, const struct timeval *b) {
  return tv_s(b) - tv_s(a);
}

/* The process's peak RSS in KiB: VmHWM, which fb_usage_begin resets, else
 * getrusage's lifetime peak.
 */
static long self_peak_kib(const struct fb_usage *end) {
  long kib;

  return fb_proc_rss_kib(0, NULL, &kib) == 0 && kib > 0 ? kib
                                                        : end->self.ru_maxrss;
}

static double ns_to_ms(uint64_t ns) {
  return (double)ns / (double)FB_NS_PER_MS;
}

static void percentiles(struct fb_percentiles *p,
                        const struct fb_histogram *h) {
  p->p50 = ns_to_ms(fb_histogram_percentile(h, 50));
  p->p90 = ns_to_ms(fb_histogram_percentile(h, 90));
  p->p99 = ns_to_ms(fb_histogram_percentile(h, 99));
  p->p999 = ns_to_ms(fb_histogram_percentile(h, 99.9));
  p->max = ns_to_ms(h->count > 0 ? h->max : 0);
}

void fb_summary_percentiles(struct fb_summary *s,
                            const struct fb_summary_hists *h) {
  percentiles(&s->latency, &h->latency);
  percentiles(&s->ttfb, &h->ttfb);
  percentiles(&s->tls, &h->tls);
  percentiles(&s->corrected, &h->corrected);
  percentiles(&s->queue, &h->queue);
}

void fb_summary_hists_init(struct fb_summary_hists *h) {
  fb_histogram_init(&h->latency);
  fb_histogram_init(&h->ttfb);
  fb_histogram_init(&h->tls);
  fb_histogram_init(&h->corrected);
  fb_histogram_init(&h->queue);
}

void fb_summary_hists_merge(struct fb_summary_hists *dst,
                            const struct fb_summary_hists *src) {
  fb_histogram_merge(&dst->latency, &src->latency);
  fb_histogram_merge(&dst->ttfb, &src->ttfb);
  fb_histogram_merge(&dst->tls, &src->tls);
  fb_histogram_merge(&dst->corrected, &src->corrected);
  fb_histogram_merge(&dst->queue, &src->queue);
}

void fb_summary_hists(struct fb_summary_hists *h,
                      const struct fb_collector *c) {
  size_t n = fb_collector_size(c);

  fb_summary_hists_init(h);
  for (size_t i = 0; i < n; i++) {
    const struct fb_result *r = fb_collector_get(c, i);

    if (r == NULL || r->t_start < 0)
      continue;
    if (r->t_tls >= r->t_start)
      fb_histogram_record(&h->tls, r->t_tls - r->t_start);
    if (r->t_done >= r->t_start)
      fb_histogram_record(&h->latency, r->t_done - r->t_start);
    if (r->t_first_byte >= r->t_start)
      fb_histogram_record(&h->ttfb, r->t_first_byte - r->t_start);
    /* Open loop: from the due time, for every request that started. */
    if (r->t_due >= 0 && r->t_done >= r->t_start) {
      fb_histogram_record(&h->corrected, r->t_done - r->t_due);
      fb_histogram_record(&h->queue, r->t_start - r->t_due);
    }
  }
}

int fb_summary_compute(struct fb_summary *s, const struct fb_collector *c,
                       const char *engine, unsigned workers,
                       const struct fb_usage *begin, const struct fb_usage *end,
                       double delay_ms) {
  const struct fb_engine_stats *st = fb_collector_stats_const(c);
  struct fb_summary_hists *h = NULL;
  int64_t first_start = -1, last_start = -1;
  size_t started = 0;
  double self_user, self_sys, child_user, child_sys, user, sys;
  size_t n = fb_collector_size(c);

  memset(s, 0, sizeof(*s));
  s->engine = engine;
  s->workers = workers;
  s->workers_ran = st->workers_max;
  s->workers_err = st->workers_err;
  s->urls = n;
  s->delay_ms = -1;
  s->ideal_s = -1;
  s->efficiency = -1;

  /* Three histograms of ~40 KiB each: too big for a worker thread's stack. */
  h = malloc(sizeof(*h));
  if (h == NULL)
    return -ENOMEM;
  fb_summary_hists(h, c);
  for (size_t i = 0; i < n; i++) {
    const struct fb_result *r = fb_collector_get(c, i);

    if (r == NULL) {
      s->missing++;
      continue;
    }
    if (r->outcome < FB_OUTCOME_COUNT)
      s->outcomes[r->outcome]++;
    else
      s->outcomes[FB_OUTCOME_OTHER]++;
    s->bytes += r->body_bytes;
    s->reused += r->reused != 0;
    s->handshakes_full += r->handshake == FB_HANDSHAKE_FULL;
    s->handshakes_resumed += r->handshake == FB_HANDSHAKE_RESUMED;
    /* Open loop: how far from its schedule, for every request started. */
    if (r->t_due >= 0 && r->t_start >= 0 && r->t_done >= r->t_start) {
      s->open_loop = 1;
      s->late += r->t_start - r->t_due > FB_NS_PER_MS;
      if (first_start < 0 || r->t_start < first_start)
        first_start = r->t_start;
      if (r->t_start > last_start)
        last_start = r->t_start;
      started++;
    }
  }
  if (started > 1 && last_start > first_start)
    s->rate_achieved = (double)(started - 1) * (double)FB_NS_PER_S /
                       (double)(last_start - first_start);
  s->ok = s->outcomes[FB_OUTCOME_OK];
  s->errors = n - s->ok;
  s->done = n - s->missing - s->outcomes[FB_OUTCOME_CANCELLED] -
            s->outcomes[FB_OUTCOME_NOT_RUN];
  s->duplicates = fb_collector_duplicates(c);
  fb_summary_percentiles(s, h);
  free(h);

  s->wall_s = (double)(end->t_ns - begin->t_ns) / (double)FB_NS_PER_S;
  s->start_real_ns = begin->real_ns;
  s->end_real_ns = end->real_ns;
  if (s->wall_s < 0)
    s->wall_s = 0;
  s->setup_s = (double)st->setup_ns / (double)FB_NS_PER_S;
  snprintf(s->engine_features, sizeof(s->engine_features), "%s", st->features);
  s->bare_fork_s = st->bare_fork_ns > 0
                       ? (double)st->bare_fork_ns / (double)FB_NS_PER_S
                       : -1;

  /* RUSAGE_CHILDREN grows when a child is reaped, so its delta is the CPU of
   * the workers reaped during the run. An engine's own wait4 figures are the
   * same processes; take the larger rather than add them.
   */
  self_user = tv_delta_s(&begin->self.ru_utime, &end->self.ru_utime);
  self_sys = tv_delta_s(&begin->self.ru_stime, &end->self.ru_stime);
  child_user = tv_delta_s(&begin->children.ru_utime, &end->children.ru_utime);
  child_sys = tv_delta_s(&begin->children.ru_stime, &end->children.ru_stime);
  if (tv_s(&st->child_utime) > child_user)
    child_user = tv_s(&st->child_utime);
  if (tv_s(&st->child_stime) > child_sys)
    child_sys = tv_s(&st->child_stime);
  user = self_user + child_user;
  sys = self_sys + child_sys;
  s->cpu_user_s = user;
  s->cpu_sys_s = sys;
  s->child_user_s = child_user;
  s->child_sys_s = child_sys;

  s->max_rss_kib = self_peak_kib(end);
  s->rss_sum_kib = s->max_rss_kib + st->child_rss_sum_kib;
  if (st->child_max_rss_kib > s->max_rss_kib)
    s->max_rss_kib = st->child_max_rss_kib;
  s->vcsw = (end->self.ru_nvcsw - begin->self.ru_nvcsw) +
            (end->children.ru_nvcsw - begin->children.ru_nvcsw);
  s->ivcsw = (end->self.ru_nivcsw - begin->self.ru_nivcsw) +
             (end->children.ru_nivcsw - begin->children.ru_nivcsw);

  /* An engine that did not say how many workers ran is taken at its word. */
  if (s->workers_ran == 0 || s->workers_ran > workers)
    s->workers_ran = workers;
  fb_summary_derive(s, delay_ms);
  return 0;
}

void fb_summary_derive(struct fb_summary *s, double delay_ms) {
  size_t rounds;

  s->cpu_per_req_ms =
      s->done > 0 ? (s->cpu_user_s + s->cpu_sys_s) * 1000.0 / (double)s->done
                  : -1;
  s->req_per_s = s->bytes_per_s = 0;
  if (s->wall_s > 0) {
    s->req_per_s = (double)s->done / s->wall_s;
    s->bytes_per_s = (double)s->bytes / s->wall_s;
  }
  s->delay_ms = s->ideal_s = s->efficiency = -1;
  s->delay_mismatch = 0;
  if (delay_ms >= 0 && isfinite(delay_ms))
    s->delay_ms = delay_ms;
  /* The ideal of what was done: a delay of 0 has none worth dividing by. */
  if (delay_ms > 0 && isfinite(delay_ms) && s->workers_ran > 0 && s->done > 0) {
    rounds = (s->done + s->workers_ran - 1) / s->workers_ran;
    s->ideal_s = (double)rounds * delay_ms / 1000.0;
    if (s->wall_s > 0)
      s->efficiency = s->ideal_s / s->wall_s;
    /* Beating the ideal means the delay given is not the server's. */
    if (s->efficiency > 1) {
      s->efficiency = -1;
      s->delay_mismatch = 1;
    }
  }
}
