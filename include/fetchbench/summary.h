/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_SUMMARY_H
#define FETCHBENCH_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "collector.h"
#include "histogram.h"
#include "result.h"

struct fb_collector;

/* Resource counters at one instant: the process and its reaped children. */
struct fb_usage {
  int64_t t_ns;    /* fb_clock_ns() */
  int64_t real_ns; /* fb_clock_real_ns(), at the same moment */
  struct rusage self;
  struct rusage children;
};

/* Samples usage now. fb_usage_begin also resets the process's peak-RSS
 * mark (Linux /proc/self/clear_refs) so that a run's peak is its own.
 */
void fb_usage_begin(struct fb_usage *u);
void fb_usage_sample(struct fb_usage *u);

struct fb_percentiles {
  double p50, p90, p99, p999, max; /* milliseconds */
};

/* The histograms behind a run's percentiles, in nanoseconds from each
 * request's start: about 117 KiB, so allocate it rather than put it on a
 * thread's stack.
 */
struct fb_summary_hists {
  struct fb_histogram latency;   /* to the last byte */
  struct fb_histogram ttfb;      /* to the first byte */
  struct fb_histogram tls;       /* to TLS established, new connections */
  struct fb_histogram corrected; /* open loop: to the last byte, from the
                                  * request's due time */
  struct fb_histogram queue;     /* open loop: due time to start */
};

/* One run, summarised. Durations in seconds unless named _ms. Rates and
 * costs describe what was done: they count the requests that ran to an end
 * (`done`), not those cancelled or never started.
 */
struct fb_summary {
  const char *engine;   /* static engine name */
  unsigned workers;     /* asked for */
  unsigned workers_ran; /* most that ran at once: fewer than asked when a
                         * pool could not grow (or fewer URLs than workers) */
  int workers_err;      /* why the pool stopped growing (-errno), or 0 */
  size_t urls;
  size_t ok;
  size_t errors; /* urls - ok */
  size_t done;   /* requests that ran to an end: urls less the cancelled,
                  * not_run and missing ones */
  size_t outcomes[FB_OUTCOME_COUNT];
  size_t missing;            /* empty slots: lost by the machinery */
  size_t duplicates;         /* second results refused */
  size_t reused;             /* requests on a reused connection */
  size_t handshakes_full;    /* TLS handshakes, full */
  size_t handshakes_resumed; /* TLS handshakes that resumed a session */
  uint64_t bytes;            /* body bytes, all requests */
  double wall_s;
  double setup_s;     /* engine start-up inside wall_s */
  double bare_fork_s; /* one of as many bare fork()s of the client in a
                       * row as it had workers, < 0 not timed */
  double cpu_user_s;  /* process + children */
  double cpu_sys_s;
  double child_user_s; /* the children's part */
  double child_sys_s;
  double cpu_per_req_ms; /* (user + sys) / done, < 0 when none was done */
  long rss_sum_kib;      /* THE memory figure of a run, in every report: the
                     * process's peak plus every child's peak, an upper
                     * bound of what the model took (shared pages count
                     * once per process) */
  long max_rss_kib;      /* the largest single process's peak */
  long vcsw;             /* context switches, process + children */
  long ivcsw;
  struct fb_percentiles latency;
  struct fb_percentiles ttfb;
  struct fb_percentiles tls; /* start to TLS established, new connections */

  /* Open loop (the run had an arrival schedule): latency counted from the
   * time each request was due (corrected: what a caller that issued it
   * then would see), the wait before it started (queue), and the latency
   * above, from its start (service time). The two differ when requests
   * waited for a worker: a closed-loop client hides that wait
   * (coordinated omission).
   */
  int open_loop;
  struct fb_percentiles corrected; /* due to done */
  struct fb_percentiles queue;     /* due to start */
  double rate_asked;               /* requests per second of the schedule */
  double rate_achieved;            /* starts per second, first start to last */
  size_t late;      /* requests started more than 1 ms after due */
  double req_per_s; /* done / wall */
  double bytes_per_s;
  double delay_ms;    /* origin delay per request, < 0 unknown */
  double ideal_s;     /* ceil(done / workers_ran) * delay; < 0 unknown or
                      * without meaning (a delay of 0) */
  double efficiency;  /* ideal_s / wall_s in [0, 1]; < 0 unknown, or when
                      * the run beat the ideal: the delay given was not the
                      * delay the server had (delay_mismatch) */
  int delay_mismatch; /* 1: faster than the given delay allows */
  char engine_features[FB_ENGINE_FEATURES_MAX]; /* fb_engine_stats.features:
                                                 * "" when none */
  int64_t start_real_ns; /* wall-clock time (CLOCK_REALTIME) at the start */
  int64_t end_real_ns;   /* and at the end, 0 when unknown */

  /* The histograms behind the percentiles, when the caller keeps them
   * (fb_summary_compute sets NULL): borrowed, and written by the JSON
   * report.
   */
  const struct fb_summary_hists *hists;
};

/* Summarises a finished run: results from c, engine statistics from
 * fb_collector_stats(c), resources from the begin/end samples. delay_ms is
 * the origin's known per-request delay (< 0 when unknown), which yields the
 * ideal wall time ceil(done / workers_ran) * delay and efficiency =
 * ideal / wall. Returns 0 or -ENOMEM.
 */
int fb_summary_compute(struct fb_summary *s, const struct fb_collector *c,
                       const char *engine, unsigned workers,
                       const struct fb_usage *begin, const struct fb_usage *end,
                       double delay_ms);

/* Sets the figures of s derived from its counts, CPU and wall time: CPU
 * per request, request and byte rates, delay_ms, and the ideal wall time
 * and efficiency of what was done (delay_ms as in fb_summary_compute), as
 * fb_summary_compute does; for a summary put together otherwise (merged
 * shards, say).
 */
void fb_summary_derive(struct fb_summary *s, double delay_ms);

/* Fills h from c's results: the histograms fb_summary_compute reads its
 * percentiles from.
 */
void fb_summary_hists(struct fb_summary_hists *h, const struct fb_collector *c);

/* Empties every histogram of h. */
void fb_summary_hists_init(struct fb_summary_hists *h);

/* Adds every histogram of src to dst's. */
void fb_summary_hists_merge(struct fb_summary_hists *dst,
                            const struct fb_summary_hists *src);

/* Sets s's latency, ttfb and tls percentiles from h, as fb_summary_compute
 * does: after merging histograms, say.
 */
void fb_summary_percentiles(struct fb_summary *s,
                            const struct fb_summary_hists *h);

#endif /* FETCHBENCH_SUMMARY_H */
