#ifndef FETCHBENCH_SUMMARY_H
#define FETCHBENCH_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "result.h"

struct fb_collector;

/* Resource counters at one instant: the process and its reaped children. */
struct fb_usage {
  int64_t t_ns; /* fb_clock_ns() */
  struct rusage self;
  struct rusage children;
};

/* Samples usage now. fb_usage_begin also resets the process's peak-RSS
 * mark (Linux /proc/self/clear_refs) so that a run's peak is its own.
 */
void fb_usage_begin(struct fb_usage *u);
void fb_usage_sample(struct fb_usage *u);

struct fb_percentiles {
  double p50, p90, p99, max; /* milliseconds */
};

/* One run, summarised. Durations in seconds unless named _ms. */
struct fb_summary {
  const char *engine; /* static engine name */
  unsigned workers;
  size_t urls;
  size_t ok;
  size_t errors; /* urls - ok */
  size_t outcomes[FB_OUTCOME_COUNT];
  size_t missing;    /* empty slots: lost by the machinery */
  size_t duplicates; /* second results refused */
  size_t reused;     /* requests on a reused connection */
  uint64_t bytes;    /* body bytes, all requests */
  double wall_s;
  double setup_s;    /* engine start-up inside wall_s */
  double cpu_user_s; /* process + children */
  double cpu_sys_s;
  double child_user_s; /* the children's part */
  double child_sys_s;
  double cpu_per_req_ms; /* (user + sys) / urls */
  long max_rss_kib;      /* largest of process and any child */
  long rss_sum_kib;      /* process + every child's peak: an upper bound of
                          * the memory the model took (shared pages count
                          * once per process) */
  long vcsw;             /* context switches, process + children */
  long ivcsw;
  struct fb_percentiles latency;
  struct fb_percentiles ttfb;
  double req_per_s;
  double bytes_per_s;
  double delay_ms;   /* origin delay per request, < 0 unknown */
  double ideal_s;    /* ceil(urls / workers) * delay, < 0 unknown */
  double efficiency; /* ideal_s / wall_s, < 0 unknown */
};

/* Summarises a finished run: results from c, engine statistics from
 * fb_collector_stats(c), resources from the begin/end samples. delay_ms is
 * the origin's known per-request delay (< 0 when unknown), which yields the
 * ideal wall time ceil(urls / workers) * delay and efficiency = ideal / wall.
 * Returns 0 or -ENOMEM.
 */
int fb_summary_compute(struct fb_summary *s, const struct fb_collector *c,
                       const char *engine, unsigned workers,
                       const struct fb_usage *begin, const struct fb_usage *end,
                       double delay_ms);

#endif /* FETCHBENCH_SUMMARY_H */
