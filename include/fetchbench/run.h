/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_RUN_H
#define FETCHBENCH_RUN_H

struct fb_engine;
struct fb_job;
struct fb_summary;
struct fb_collector;

/* Runs one measured cell: creates a collector for the job's URLs, samples
 * resource usage, runs the engine, samples again, checks the one-result rule
 * and summarises into *s (delay_ms as in fb_summary_compute).
 *
 * Returns the engine's code when it broke (the summary is still filled from
 * what was collected), else FB_ELOST or FB_EDUPLICATE when the rule was
 * broken, else 0. FB_ERANGE, without running, when job->workers is outside
 * 1..engine->max_workers; FB_EEMPTY, without running, when the job has no
 * URLs. *out receives the collector, which the caller destroys, when out is
 * not NULL (also on error, when one was created).
 */
int fb_run_measure(const struct fb_engine *engine, const struct fb_job *job,
                   double delay_ms, struct fb_summary *s,
                   struct fb_collector **out);

#endif /* FETCHBENCH_RUN_H */
