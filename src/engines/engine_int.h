/* SPDX-License-Identifier: MIT */
#ifndef FB_ENGINES_ENGINE_INT_H
#define FB_ENGINES_ENGINE_INT_H

/* What every engine shares beside the curl setup (fetch.h): the end of a
 * run. Internal to src/engines/.
 */

#include <stddef.h>
#include <stdint.h>

#include "fetchbench/collector.h"
#include "fetchbench/job.h"

/* Ends a run the one way every engine does: err is what the engine's
 * machinery returned (0 when it worked). When err is 0 and the job was
 * cancelled before every URL had its result, err becomes FB_ECANCELED. Then
 * every empty slot is filled: cancelled ("run cancelled") for FB_ECANCELED,
 * not_run for any other error, with the message "run stopped: " and why (or,
 * when why is NULL or empty, the error's description). Returns err. Call it
 * from the thread that called run(), once no worker can deliver a result
 * any more.
 */
int fb__engine_finish(const struct fb_job *job, struct fb_collector *c, int err,
                      const char *why);

/* Checks, before an engine creates anything, that the open-files limit
 * leaves at least `start` descriptors free: what its machinery needs to exist
 * (libuv aborts the process when it cannot make its signal pipe, so the loop
 * engines must not even try). `per_run` is what the whole run would want
 * (machinery plus a connection per worker), for the message. Returns 0, or
 * FB_ENOFILE with why (a sentence naming the limit, what is open, what
 * `engine` needs and the `ulimit -n` that would do). Descriptors that cannot
 * be counted (no /proc) pass.
 */
int fb__engine_check_fds(const char *engine, unsigned start, unsigned per_run,
                         char *why, size_t len);

/* The same message, unconditionally: for an engine whose start failed with
 * EMFILE or ENFILE after the check. Returns FB_ENOFILE.
 */
int fb__engine_nofile(const char *engine, unsigned start, unsigned per_run,
                      char *why, size_t len);

/* Open loop: waits until request index is due (job->schedule, counted from
 * the run's clock zero t0), waking at least every 100 ms to look at the
 * cancel flag. Returns 0 at once in a closed loop or when the request is
 * already due, 0 once it is, or FB_ECANCELED when the job was cancelled
 * meanwhile. For engines whose workers block (sequential, threads,
 * processes); a loop engine arms a timer instead (fb__engine_due_at).
 */
int fb__engine_wait_due(const struct fb_job *job, int64_t t0, size_t index);

/* When request index may start, on fb_clock_ns()'s clock: t0 plus its due
 * time, or t0 in a closed loop.
 */
int64_t fb__engine_due_at(const struct fb_job *job, int64_t t0, size_t index);

#endif /* FB_ENGINES_ENGINE_INT_H */
