#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "engines/engine_int.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"

extern const struct fb_engine fb_engine_sequential;
extern const struct fb_engine fb_engine_threads;
extern const struct fb_engine fb_engine_processes;
extern const struct fb_engine fb_engine_async;

/* Report order: the models of the original experiment, then the event loop.
 * Adding an engine is one line here and one file beside this one.
 */
const struct fb_engine *const fb_engines[] = {
    &fb_engine_sequential,
    &fb_engine_threads,
    &fb_engine_processes,
    &fb_engine_async,
    NULL,
};

const struct fb_engine *fb_engine_find(const char *name) {
  for (size_t i = 0; fb_engines[i] != NULL; i++)
    if (strcmp(fb_engines[i]->name, name) == 0)
      return fb_engines[i];
  return NULL;
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

int fb__engine_check_fds(const char *engine, unsigned start, unsigned per_run,
                         char *why, size_t len) {
  struct rlimit rl;
  long open;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return 0;
  open = open_fds();
  if (open < 0 || (rlim_t)open + start <= rl.rlim_cur)
    return 0;
  snprintf(why, len,
           "the open-files limit is %llu and %ld are open: the %s engine "
           "needs %u more to start and about %u for this run (ulimit -n %lu)",
           (unsigned long long)rl.rlim_cur, open, engine, start, per_run,
           (unsigned long)open + per_run + 16);
  return FB_ENOFILE;
}
