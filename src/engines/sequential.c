/* SPDX-License-Identifier: MIT */
#include "engines/engine_int.h"
#include "engines/fetch.h"
#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/urlset.h"

/* One thread, one easy handle, one request after another: the loop of the
 * original experiment. In reuse mode the handle keeps its connection alive
 * from one request to the next; in fresh mode fetch.c makes every request
 * open and close its own.
 */
static int run(const struct fb_job *job, struct fb_collector *c) {
  struct fb_engine_stats *stats = fb_collector_stats(c);
  size_t n = fb_urlset_count(job->urls);
  struct fb_fetch f;
  struct fb_result r;
  int64_t t;
  CURLcode code;
  int err;

  t = fb_clock_ns();
  err = fb__fetch_init(&f, job, fb_collector_t0(c), 0, NULL);
  stats->setup_ns = fb_clock_ns() - t;
  if (err != 0)
    goto out;
  stats->workers_started = 1;
  stats->workers_max = 1;

  for (size_t i = 0; i < n && !fb_job_cancelled(job); i++) {
    /* Open loop: one request at a time falls behind, honestly. */
    if (fb__engine_wait_due(job, fb_collector_t0(c), i) != 0)
      break;
    err = fb__fetch_start(&f, i);
    if (err != 0)
      goto out;
    code = fb__fetch_perform(&f);
    fb__fetch_finish(&f, code, &r);
    /* A refused put is counted by the collector and fails the run's check;
     * -ENOMEM only drops the message copy.
     */
    (void)fb_collector_put(c, &r);
  }
out:
  err = fb__engine_finish(job, c, err, f.errbuf);
  fb__fetch_cleanup(&f);
  return err;
}

const struct fb_engine fb_engine_sequential = {
    .name = "sequential",
    .summary = "one thread, one easy handle, one request after another",
    .max_workers = 1,
    .run = run,
};
