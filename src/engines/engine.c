/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/resource.h>

#include "engines/engine_int.h"
#include "fetchbench/clock.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/schedule.h"
#include "fetchbench/urlset.h"
#include "tls/tls.h"

extern const struct fb_engine fb_engine_sequential;
extern const struct fb_engine fb_engine_threads;
extern const struct fb_engine fb_engine_processes;
extern const struct fb_engine fb_engine_async;
extern const struct fb_engine fb_engine_raw;
extern const struct fb_engine fb_engine_uring;

/* Report order: the models of the original experiment, then the event loop,
 * then the event loop without libcurl, then the completion-based loop.
 * Adding an engine is one line here and one file beside this one.
 */
const struct fb_engine *const fb_engines[] = {
    &fb_engine_sequential,
    &fb_engine_threads,
    &fb_engine_processes,
    &fb_engine_async,
    &fb_engine_raw,
    &fb_engine_uring,
    NULL,
};

const struct fb_engine *fb_engine_find(const char *name) {
  for (size_t i = 0; fb_engines[i] != NULL; i++)
    if (strcmp(fb_engines[i]->name, name) == 0)
      return fb_engines[i];
  return NULL;
}

int fb_engine_available(const struct fb_engine *e, char *why, size_t len) {
  if (len > 0)
    why[0] = '\0';
  return e->available != NULL ? e->available(why, len) : 0;
}

int fb__engine_finish(const struct fb_job *job, struct fb_collector *c, int err,
                      const char *why) {
  char msg[FB_MESSAGE_MAX];

  if (err == 0 && fb_job_cancelled(job) && fb_collector_missing(c) > 0)
    err = FB_ECANCELED;
  if (err == FB_ECANCELED) {
    fb_collector_fill(c, FB_OUTCOME_CANCELLED, "run cancelled");
  } else if (err != 0) {
    snprintf(msg, sizeof(msg), "run stopped: %s",
             why != NULL && why[0] != '\0' ? why : fb_strerror(err));
    fb_collector_fill(c, FB_OUTCOME_NOT_RUN, msg);
  }
  return err;
}

/* Open descriptors of this process, or -1 when /proc cannot tell. */
static long open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  long n = 0;

  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the directory's own */
}

int fb__engine_nofile(const char *engine, unsigned start, unsigned per_run,
                      char *why, size_t len) {
  struct rlimit rl;
  long open = open_fds();

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    rl.rlim_cur = RLIM_INFINITY;
  snprintf(why, len,
           "the open-files limit is %llu and %ld are open: the %s engine "
           "needs %u more to start and about %u for this run (ulimit -n %lu)",
           (unsigned long long)rl.rlim_cur, open, engine, start, per_run,
           (unsigned long)open + per_run + 16);
  return FB_ENOFILE;
}

int fb__engine_check_fds(const char *engine, unsigned start, unsigned per_run,
                         char *why, size_t len) {
  struct rlimit rl;
  long open;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return 0;
  open = open_fds();
  if (open < 0 || (rlim_t)open + start <= rl.rlim_cur)
    return 0;
  return fb__engine_nofile(engine, start, per_run, why, len);
}

static int has_https(const struct fb_urlset *urls) {
  for (size_t i = 0; urls != NULL && i < fb_urlset_count(urls); i++)
    if (strncasecmp(fb_urlset_get(urls, i), "https:", 6) == 0)
      return 1;
  return 0;
}

int fb_engine_check_job(const struct fb_job *job, char *err, size_t errlen) {
  X509_STORE *store;

  /* A CA file given is checked whatever the URLs: a typo must not wait for
   * the first redirect to https to show.
   */
  if (job->cacert == NULL && !has_https(job->urls))
    return 0;
  if (job->ca_cache != FB_CA_SHARED) {
    /* libcurl reads it itself, per connection or per multi handle: only
     * check that it is a CA file.
     */
    if (job->cacert == NULL)
      return 0;
  }
  return fb_tls_ca_store(job->cacert, &store, err, errlen);
}

int64_t fb__engine_due_at(const struct fb_job *job, int64_t t0, size_t index) {
  return t0 + fb_schedule_due(job->schedule, index);
}

#define WAIT_SLICE_NS (100 * FB_NS_PER_MS)

int fb__engine_wait_due(const struct fb_job *job, int64_t t0, size_t index) {
  int64_t due, now;

  if (job->schedule == NULL)
    return 0;
  due = fb__engine_due_at(job, t0, index);
  /* An absolute sleep on the clock the due times are kept in: no drift from
   * the time taken to compute how long to sleep.
   */
  while ((now = fb_clock_ns()) < due) {
    int64_t until = due - now > WAIT_SLICE_NS ? now + WAIT_SLICE_NS : due;
    struct timespec ts = {(time_t)(until / FB_NS_PER_S),
                          (long)(until % FB_NS_PER_S)};

    if (fb_job_cancelled(job))
      return FB_ECANCELED;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
  }
  return fb_job_cancelled(job) ? FB_ECANCELED : 0;
}
