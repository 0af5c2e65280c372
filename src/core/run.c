/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "fetchbench/collector.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/run.h"
#include "fetchbench/schedule.h"
#include "fetchbench/summary.h"
#include "fetchbench/urlset.h"

int fb_run_measure(const struct fb_engine *engine, const struct fb_job *job,
                   double delay_ms, struct fb_summary *s,
                   struct fb_collector **out) {
  struct fb_collector *c = NULL;
  struct fb_usage begin, end;
  int rc, check, sum;

  if (out != NULL)
    *out = NULL;
  if (job->workers < 1 || job->workers > engine->max_workers)
    return FB_ERANGE;
  if (job->urls == NULL || fb_urlset_count(job->urls) == 0)
    return FB_EEMPTY;
  rc = fb_collector_create(&c, fb_urlset_count(job->urls));
  if (rc != 0)
    return rc;

  fb_usage_begin(&begin);
  fb_collector_restart(c);
  rc = engine->run(job, c);
  fb_usage_sample(&end);

  check = fb_collector_check(c, NULL);
  sum = fb_summary_compute(s, c, engine->name, job->workers, &begin, &end,
                           delay_ms);
  if (job->schedule != NULL)
    s->rate_asked = job->schedule->rate;
  if (rc == 0)
    rc = check;
  if (rc == 0)
    rc = sum;
  if (out != NULL)
    *out = c;
  else
    fb_collector_destroy(c);
  return rc;
}
